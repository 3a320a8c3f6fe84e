"""Serving only a run's own artifacts: traversal spellings and real symlinks out of the run are refused."""

from __future__ import annotations

import functools
import http.server
import os
import re
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest

from bot.artifacts.served import ArtifactError, ArtifactMissing, ArtifactRefused, resolve_artifact
from tests.browser import PNG_MAGIC, dump_dom, needs_chromium, screenshot


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, Path]:
    """A runs root with run 753 (results, junit, a log) and a sibling run 754 holding a private file."""
    root = tmp_path / "runs"
    run = root / "753"
    (run / "junit").mkdir(parents=True)
    (run / "results.json").write_text("{}")
    (run / "junit" / "install__cc-ci__test_x.xml").write_text("<testsuite/>")
    (run / "run.log").write_text("log\n")
    (root / "754").mkdir()
    (root / "754" / "secret.txt").write_text("sibling's")
    (tmp_path / "x").write_text("outside the runs root")
    return root, run


def test_a_plain_artifact_resolves_to_its_real_path(runs: tuple[Path, Path]) -> None:
    root, run = runs
    assert resolve_artifact(run, [root], "results.json") == run.resolve() / "results.json"
    assert resolve_artifact(run, [root], "junit/install__cc-ci__test_x.xml").read_text() == "<testsuite/>"
    assert resolve_artifact(run, [root], "./junit//install__cc-ci__test_x.xml").name == "install__cc-ci__test_x.xml"


@pytest.mark.parametrize(
    ("relative", "reason"),
    [
        ("", "empty"),
        ("../x", "'..'"),
        ("../754/secret.txt", "'..'"),
        ("junit/../../x", "'..'"),
        ("junit/..", "'..'"),
        ("/etc/passwd", "absolute"),
        ("//etc/passwd", "absolute"),
        ("junit\\..\\..\\x", "backslash"),
        ("run.log\x00.png", "NUL"),
        ("junit/", "directory"),
        ("junit", "directory"),
        (".", "run dir itself"),
    ],
)
def test_traversal_spellings_are_refused(runs: tuple[Path, Path], relative: str, reason: str) -> None:
    root, run = runs
    with pytest.raises(ArtifactRefused, match=re.escape(reason)):
        resolve_artifact(run, [root], relative)


def test_percent_encoded_dots_are_refused_once_decoded_and_harmless_if_not(runs: tuple[Path, Path]) -> None:
    root, run = runs
    with pytest.raises(ArtifactRefused, match=re.escape("'..'")):
        resolve_artifact(run, [root], unquote("%2e%2e/x"))
    with pytest.raises(ArtifactRefused, match=re.escape("'..'")):
        resolve_artifact(run, [root], unquote("junit/%2E%2E/%2e%2e/754/secret.txt"))
    # Undecoded, "%2e%2e" is just a (missing) file name inside the run: nothing outside is reached.
    with pytest.raises(ArtifactMissing):
        resolve_artifact(run, [root], "%2e%2e/x")


def test_symlink_to_etc_passwd_is_refused(runs: tuple[Path, Path]) -> None:
    root, run = runs
    (run / "passwd.txt").symlink_to("/etc/passwd")
    (run / "junit" / "up").symlink_to("../../..")  # a link to a dir above the run, then a path through it
    with pytest.raises(ArtifactRefused, match="outside the run"):
        resolve_artifact(run, [root], "passwd.txt")
    with pytest.raises(ArtifactRefused, match="outside the run"):
        resolve_artifact(run, [root], "junit/up/x")


def test_symlink_to_a_sibling_run_is_refused(runs: tuple[Path, Path]) -> None:
    root, run = runs
    (run / "other").symlink_to(root / "754")
    (run / "stolen.txt").symlink_to(root / "754" / "secret.txt")
    with pytest.raises(ArtifactRefused, match="outside the run"):
        resolve_artifact(run, [root], "other/secret.txt")
    with pytest.raises(ArtifactRefused, match="outside the run"):
        resolve_artifact(run, [root], "stolen.txt")


def test_dangling_link_out_is_refused_not_missing(runs: tuple[Path, Path], tmp_path: Path) -> None:
    """A 404 would tell a prober that the outside path does not exist; it gets the same 403 either way."""
    root, run = runs
    (run / "probe").symlink_to(tmp_path / "does-not-exist")
    with pytest.raises(ArtifactRefused, match="outside the run"):
        resolve_artifact(run, [root], "probe")


def test_symlink_inside_the_run_is_followed(runs: tuple[Path, Path]) -> None:
    root, run = runs
    (run / "latest.log").symlink_to("run.log")
    (run / "j").symlink_to("junit")
    assert resolve_artifact(run, [root], "latest.log") == run.resolve() / "run.log"
    assert resolve_artifact(run, [root], "j/install__cc-ci__test_x.xml").parent == run.resolve() / "junit"


def test_run_dir_linked_out_of_the_root_is_refused(runs: tuple[Path, Path], tmp_path: Path) -> None:
    root, _ = runs
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "results.json").write_text("{}")
    (root / "999").symlink_to(outside)
    (root / "etc").symlink_to("/etc")
    with pytest.raises(ArtifactRefused, match="not inside a runs root"):
        resolve_artifact(root / "999", [root], "results.json")
    with pytest.raises(ArtifactRefused, match="not inside a runs root"):
        resolve_artifact(root / "etc", [root], "passwd")
    with pytest.raises(ArtifactRefused, match="not inside a runs root"):
        resolve_artifact(root, [root], "754/secret.txt")  # the root itself is no run
    with pytest.raises(ArtifactRefused, match="not inside a runs root"):
        resolve_artifact(root / "753", [], "results.json")


def test_a_root_reached_through_a_symlink_still_counts(runs: tuple[Path, Path], tmp_path: Path) -> None:
    root, _ = runs
    alias = tmp_path / "runs-alias"
    alias.symlink_to(root)
    assert resolve_artifact(alias / "753", [root], "run.log") == (root / "753" / "run.log").resolve()
    assert resolve_artifact(root / "753", [alias], "run.log") == (root / "753" / "run.log").resolve()


def test_missing_artifact_and_missing_run_are_missing(runs: tuple[Path, Path]) -> None:
    root, run = runs
    with pytest.raises(ArtifactMissing, match="no such artifact"):
        resolve_artifact(run, [root], "screenshot.png")
    (run / "gone").symlink_to("nothing-here")
    with pytest.raises(ArtifactMissing):
        resolve_artifact(run, [root], "gone")
    with pytest.raises(ArtifactMissing, match="no such run"):
        resolve_artifact(root / "800", [root], "results.json")


def test_loops_and_special_files_are_refused(runs: tuple[Path, Path]) -> None:
    root, run = runs
    (run / "loop").symlink_to("loop")
    os.mkfifo(run / "pipe")
    with pytest.raises(ArtifactError):
        resolve_artifact(run, [root], "loop")
    with pytest.raises(ArtifactRefused, match="not a regular file"):
        resolve_artifact(run, [root], "pipe")


def test_errors_are_distinct_and_carry_a_reason(runs: tuple[Path, Path]) -> None:
    assert not issubclass(ArtifactMissing, ArtifactRefused) and not issubclass(ArtifactRefused, ArtifactMissing)
    root, run = runs
    with pytest.raises(ArtifactRefused) as refused:
        resolve_artifact(run, [root], "../x")
    assert refused.value.reason == "'..' in path" and str(refused.value) == "'..' in path"


@pytest.fixture
def local_site(tmp_path: Path) -> Iterator[str]:
    """A tiny page served by http.server on 127.0.0.1 (port chosen by the OS), in a thread."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text(
        "<!doctype html><html><body><h1>static marker</h1><p id='js'></p>"
        "<script>document.getElementById('js').textContent = 'rendered-by-' + 'script';</script></body></html>"
    )

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    server.shutdown()
    server.server_close()
    thread.join()


@needs_chromium
def test_browser_helper_renders_a_local_page(local_site: str, tmp_path: Path) -> None:
    dom = dump_dom(local_site, tmp_path / "chromium")
    assert "static marker" in dom
    assert "rendered-by-script" in dom  # the script ran: this is a browser, not a fetch
    png = screenshot(local_site, tmp_path / "shot.png", tmp_path / "chromium", width=800, height=600)
    data = png.read_bytes()
    assert data.startswith(PNG_MAGIC)
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    assert (width, height) == (800, 600)
