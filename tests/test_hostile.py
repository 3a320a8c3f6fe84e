"""Hostile run dirs (issue 14): links out of the run, FIFOs, devices, directories, oversized and deep
results.json, absurd times, vanishing dirs and control characters. Nothing may hang, crash or leak."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from msgspec.structs import replace

import bot.ingest.scan as ingest_mod
from bot.answers import why as evidence_mod
from bot.artifacts.safeopen import Unsafe, open_in_run
from bot.cli import main
from bot.masking import Masker
from bot.render import to_text
from bot.service import Service
from tests.conftest import Site
from tests.hostile_world import (
    FAILING,
    JUNIT_NAME,
    OUTSIDE_TEXT,
    RECIPE,
    RUN_ID,
    fetch_all,
    guarded_ingest,
    make_run,
    outside_file,
    real_junit,
    settled,
)


@pytest.fixture(scope="module")
def junit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return real_junit(tmp_path_factory.mktemp("junit"))


def _notes(site: Site, run_id: str = RUN_ID) -> list[str]:
    return [f"{e.kind}: {e.excerpt}" for e in site.store.results.evidence(run_id)]


def _why_text(site: Site) -> str:
    return to_text(evidence_mod.why(site.store, site.config, RECIPE))


# --- 1. confinement ---------------------------------------------------------------------------------


HOSTILE_FILES: dict[str, Callable[[Path, Path], None]] = {
    "link-outside": lambda p, tmp: p.symlink_to(outside_file(tmp)),
    "fifo": lambda p, tmp: os.mkfifo(p),
    "dev-zero": lambda p, tmp: p.symlink_to("/dev/zero"),
    "directory": lambda p, tmp: p.mkdir(),
    "proc-environ": lambda p, tmp: p.symlink_to("/proc/self/environ"),
}


@pytest.mark.writes_runs
@pytest.mark.parametrize("kind", sorted(HOSTILE_FILES))
def test_a_hostile_log_is_a_note_never_content(site: Site, junit: Path, tmp_path: Path, kind: str) -> None:
    run = make_run(site.runs_dir, junit)
    (run / "run.log").unlink()
    HOSTILE_FILES[kind](run / "run.log", tmp_path)
    config = settled(site.config)
    guarded_ingest(site.store, config)
    assert site.store.runs.get(RUN_ID) is not None
    notes = _notes(site)
    assert any(n.startswith("log-unreadable: run.log is not a regular file inside the run") for n in notes), notes
    text = _why_text(site)
    assert "run.log is not a regular file inside the run" in text
    assert OUTSIDE_TEXT not in text
    pages = fetch_all(config, Masker(()), [f"/runs/{RUN_ID}/", f"/recipes/{RECIPE}", f"/api/why/{RECIPE}"])
    for path, (status, body) in pages.items():
        assert status == 200, path
        assert OUTSIDE_TEXT not in body and "OUTSIDE-SECRET" not in body, path
    assert "not a regular file inside the run" in pages[f"/api/why/{RECIPE}"][1]
    log_pages = fetch_all(config, Masker(()), [f"/runs/{RUN_ID}/log", f"/runs/{RUN_ID}/log?raw=1"])
    for path, (status, body) in log_pages.items():
        assert status in (403, 404), (path, status)
        assert "OUTSIDE-SECRET" not in body


@pytest.mark.writes_runs
@pytest.mark.parametrize("kind", sorted(HOSTILE_FILES))
def test_a_hostile_results_json_is_a_note_and_status_comes_from_junit(
    site: Site, junit: Path, tmp_path: Path, kind: str
) -> None:
    run = make_run(site.runs_dir, junit)
    (run / "results.json").unlink()
    HOSTILE_FILES[kind](run / "results.json", tmp_path)
    config = settled(site.config)
    guarded_ingest(site.store, config)
    row = site.store.runs.get(RUN_ID)
    assert row is not None and row.status.value == "red" and row.derived
    notes = _notes(site)
    assert any(n.startswith("results-unreadable: results.json is not a regular file inside the run") for n in notes)
    assert not any("OUTSIDE-SECRET" in n for n in notes)
    status, body = fetch_all(config, Masker(()), [f"/runs/{RUN_ID}/results.json"])[f"/runs/{RUN_ID}/results.json"]
    assert status in (403, 404) and "OUTSIDE-SECRET" not in body


@pytest.mark.writes_runs
@pytest.mark.parametrize("kind", ["link-outside", "fifo", "dev-zero"])
def test_a_hostile_junit_file_is_a_note(site: Site, junit: Path, tmp_path: Path, kind: str) -> None:
    run = make_run(site.runs_dir, junit)
    hostile = run / "junit" / "install__cc-ci__test_install.xml"
    HOSTILE_FILES[kind](hostile, tmp_path)
    config = settled(site.config)
    guarded_ingest(site.store, config)
    notes = _notes(site)
    assert any(
        n.startswith("junit-unreadable:") and "install__cc-ci__test_install.xml is not a regular file" in n
        for n in notes
    ), notes
    # the good JUnit file still counts
    assert any(f.test == FAILING for f in site.store.results.failures(RUN_ID))
    name = "install__cc-ci__test_install.xml"
    got = fetch_all(config, Masker(()), [f"/runs/{RUN_ID}/junit/{name}", f"/runs/{RUN_ID}/junit/{name}?raw=1"])
    for status, body in got.values():
        assert status in (403, 404) and "OUTSIDE-SECRET" not in body


@pytest.mark.writes_runs
def test_links_that_stay_inside_the_run_are_followed(site: Site, junit: Path) -> None:
    run = make_run(site.runs_dir, junit)
    (run / "logs").mkdir()
    (run / "run.log").rename(run / "logs" / "runner.log")
    (run / "run.log").symlink_to("logs/runner.log")
    guarded_ingest(site.store, settled(site.config))
    assert any(e.kind == "log" and FAILING in e.excerpt for e in site.store.results.evidence(RUN_ID))


@pytest.mark.writes_runs
def test_a_recipe_clone_linked_outside_the_run_is_not_read(site: Site, junit: Path, tmp_path: Path) -> None:
    """No results.json: the version would come from the clone's tag; a clone elsewhere is not used."""
    elsewhere = tmp_path / "elsewhere-clone"
    elsewhere.mkdir()
    subprocess.run(["git", "init", "-q", str(elsewhere)], check=True)
    (elsewhere / "f").write_text("x")
    git = ["git", "-C", str(elsewhere), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "add", "f"], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    subprocess.run([*git, "tag", "9.9.9+leaked"], check=True)
    run = make_run(site.runs_dir, junit)
    (run / "results.json").unlink()
    (run / "abra" / "recipes").mkdir(parents=True)
    (run / "abra" / "recipes" / RECIPE).symlink_to(elsewhere)
    guarded_ingest(site.store, settled(site.config))
    row = site.store.runs.get(RUN_ID)
    assert row is not None and row.version is None


def test_open_in_run_refuses_escapes_by_spelling_and_by_link(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "ok.txt").write_text("fine")
    (tmp_path / "secret").write_text("secret")
    with open_in_run(run, "ok.txt") as handle:
        assert handle.read() == b"fine"
    for relative in ("../secret", "/etc/passwd", "."):
        with pytest.raises(Unsafe):
            open_in_run(run, relative)
    (run / "hop").symlink_to(tmp_path)
    with pytest.raises(Unsafe, match="leads outside"):
        open_in_run(run, "hop/secret")
    with pytest.raises(FileNotFoundError):
        open_in_run(run, "missing.txt")


# --- 2. sizes ---------------------------------------------------------------------------------------


@pytest.mark.writes_runs
def test_results_json_over_the_size_or_depth_cap_is_a_note(site: Site, junit: Path) -> None:
    make_run(site.runs_dir, junit, RUN_ID, padding="x" * 5000)
    for run_id, depth in (("evil-2", 20), ("evil-3", 1500)):  # 1500: beyond Python's recursion limit too
        deep = make_run(site.runs_dir, junit, run_id)
        (deep / "results.json").write_text('{"recipe": "evil", "x": ' + "[" * depth + "]" * depth + "}")
    config = settled(site.config)
    config = replace(config, ccci=replace(config.ccci, max_results_bytes=4096, max_results_depth=16))
    guarded_ingest(site.store, config)
    assert any("larger than the 4,096-byte cap" in n for n in _notes(site, RUN_ID))
    for run_id in ("evil-2", "evil-3"):
        assert any("nested deeper than 16 levels" in n for n in _notes(site, run_id)), run_id


@pytest.mark.writes_runs
def test_failure_text_is_capped_per_testcase(site: Site, tmp_path: Path) -> None:
    big = "E" * 50_000
    xml = tmp_path / "big.xml"
    xml.write_text(
        '<testsuites><testsuite name="s"><testcase classname="t" name="test_evil_fails" time="1">'
        f'<failure message="{big}">{big}</failure></testcase></testsuite></testsuites>'
    )
    make_run(site.runs_dir, xml)
    config = settled(site.config)
    config = replace(config, evidence=replace(config.evidence, max_failure_chars=1000))
    guarded_ingest(site.store, config)
    failure = next(f for f in site.store.results.failures(RUN_ID) if f.test == FAILING)
    assert len(failure.text) == 1000


@pytest.mark.writes_runs
def test_the_junit_page_is_served_from_what_ingest_stored(site: Site, junit: Path) -> None:
    run = make_run(site.runs_dir, junit)
    config = settled(site.config)
    guarded_ingest(site.store, config)
    # the file changes after ingest: the page shows what was read (no parse per request)
    (run / "junit" / JUNIT_NAME).write_text("<testsuites/>")
    path = f"/runs/{RUN_ID}/junit/{JUNIT_NAME}"
    service = Service(config)
    try:
        import asyncio

        from aiohttp.test_utils import TestClient, TestServer

        from bot.web.metrics import Metrics
        from bot.web.routes import make_app

        async def get() -> tuple[int, str]:
            async with TestClient(TestServer(make_app(service, Masker(()), Metrics(service.store)))) as client:
                response = await client.get(path)
                return response.status, await response.text()

        status, body = asyncio.run(get())
    finally:
        service.close()
    assert status == 200 and FAILING in body and "evil assertion" in body


# --- 3. timestamps ----------------------------------------------------------------------------------


@pytest.mark.writes_runs
@pytest.mark.parametrize("value", [1e20, -5, "NaN", "Infinity", "9999-12-31T23:59:59Z", 10**400])
def test_absurd_times_are_missing_with_a_note_and_every_answer_works(
    site: Site, junit: Path, value: object, capsys: pytest.CaptureFixture[str]
) -> None:
    run = make_run(site.runs_dir, junit, finished=0, started=0)
    raw = (run / "results.json").read_text()
    literal = value if isinstance(value, str) and value in ("NaN", "Infinity") else json.dumps(value)
    raw = raw.replace('"finished": 0', f'"finished": {literal}').replace('"started": 0', f'"started": {literal}')
    (run / "results.json").write_text(raw)
    config = settled(site.config)
    guarded_ingest(site.store, config)
    row = site.store.runs.get(RUN_ID)
    assert row is not None
    assert row.finished is None or 946684800 <= row.finished < 4102444800
    assert row.started is None or 946684800 <= row.started < 4102444800
    assert any(n.startswith("bad-time:") and "finished" in n for n in _notes(site))
    site.store.close()
    flags = ["--runs-dir", str(site.runs_dir), "--warm-dir", str(site.warm_dir), "--data-dir", str(config.data_dir)]
    for command in (["why", RECIPE], ["summary"], ["report", "red"], ["report", "sweep"], ["why", RECIPE, "--json"]):
        assert main([*command, *flags, "--no-ingest"] if command[0] != "report" else [*command, *flags]) == 0, command
    capsys.readouterr()
    paths = ["/", f"/recipes/{RECIPE}", f"/runs/{RUN_ID}/", "/api/summary", "/api/report/red", "/api/report/sweep"]
    for path, (status, _) in fetch_all(config, Masker(()), paths).items():
        assert status == 200, path


# --- 4. vanishing runs ------------------------------------------------------------------------------


@pytest.mark.writes_runs
def test_a_run_dir_removed_mid_scan_is_skipped(site: Site, junit: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = make_run(site.runs_dir, junit)
    real_snapshot = ingest_mod.snapshot

    def snapshot_then_remove(path: str, cfg: object) -> object:
        snap = real_snapshot(path, cfg)  # type: ignore[arg-type]
        if Path(path) == run:
            shutil.rmtree(run)  # the runner's cleanup wins the race right after the stat pass
        return snap

    monkeypatch.setattr(ingest_mod, "snapshot", snapshot_then_remove)
    report = guarded_ingest(site.store, settled(site.config))
    assert RUN_ID not in report.ingested
    assert site.store.runs.get(RUN_ID) is None
    assert "unknown" not in site.store.runs.recipes()


@pytest.mark.writes_runs
def test_runs_whose_dir_is_gone_are_retired_not_phantoms(site: Site, junit: Path) -> None:
    make_run(site.runs_dir, junit)
    config = settled(site.config)
    guarded_ingest(site.store, config)
    shutil.rmtree(site.runs_dir / RUN_ID)
    report = guarded_ingest(site.store, config)
    assert report.retired == [RUN_ID]
    row = site.store.runs.get(RUN_ID)
    assert row is not None and row.retired_at is not None and row.recipe == RECIPE  # history, not a phantom
    assert "unknown" not in site.store.runs.recipes()
    got = fetch_all(config, Masker(()), [f"/runs/{RUN_ID}/", f"/runs/{RUN_ID}/log"])
    assert got[f"/runs/{RUN_ID}/"][0] == 200 and "no longer exists" in got[f"/runs/{RUN_ID}/"][1]
    assert got[f"/runs/{RUN_ID}/log"][0] == 404
    # it comes back (restored from a backup): no longer retired
    make_run(site.runs_dir, junit)
    guarded_ingest(site.store, config)
    again = site.store.runs.get(RUN_ID)
    assert again is not None and again.retired_at is None


def test_an_empty_runs_dir_retires_nothing(site: Site, tmp_path: Path) -> None:
    """An unmounted runs dir looks empty: that must not retire the whole history."""
    guarded_ingest(site.store, site.config)
    before = len(site.store.ingest.run_directories())
    empty = tmp_path / "empty-runs"
    empty.mkdir()
    guarded_ingest(site.store, site.config.with_overrides(runs_dir=empty))
    assert len(site.store.ingest.run_directories()) == before > 0


# --- 5. names ---------------------------------------------------------------------------------------


@pytest.mark.writes_runs
def test_run_recipe_and_version_names_with_control_characters_are_refused(site: Site, junit: Path) -> None:
    make_run(site.runs_dir, junit, "evil\nrun")
    make_run(site.runs_dir, junit, "evil-2", recipe="ev\x1b[2Jil")
    make_run(site.runs_dir, junit, "evil-3", version="1.0\r\nFORGED")
    config = settled(site.config)
    report = guarded_ingest(site.store, config)
    for run_id in ("evil\nrun", "evil-2", "evil-3"):
        assert site.store.runs.get(run_id) is None
    problems = "\n".join(report.problems)
    assert "evil\\x0arun: run dir name holds control characters" in problems
    assert "evil-2: recipe 'ev\\\\x1b[2Jil' holds control characters" in problems
    assert "evil-3: version" in problems
    assert "\x1b" not in problems and "\r" not in problems
    again = guarded_ingest(site.store, config)  # refused dirs are remembered, not read again
    assert not any("control characters" in p for p in again.problems)


@pytest.mark.writes_runs
def test_test_names_with_control_characters_are_shown_escaped(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    xml = tmp_path / "forged.xml"
    xml.write_text(
        '<testsuites><testsuite name="s"><testcase classname="t" name="test_evil_fails&#10;FORGED: all green"'
        ' time="1"><failure message="boom&#x9b;2J">x</failure></testcase></testsuite></testsuites>'
    )
    make_run(site.runs_dir, xml)
    config = settled(site.config)
    guarded_ingest(site.store, config)
    names = [f.test for f in site.store.results.failures(RUN_ID)]
    assert "test_evil_fails\\x0aFORGED: all green" in names
    assert any(e.kind == "names-escaped" for e in site.store.results.evidence(RUN_ID))
    site.store.close()
    flags = ["--runs-dir", str(site.runs_dir), "--warm-dir", str(site.warm_dir), "--data-dir", str(config.data_dir)]
    assert main(["why", RECIPE, "--no-ingest", *flags]) == 0
    out = capsys.readouterr().out
    assert "\nFORGED" not in out and "\x9b" not in out and "FORGED" in out


# --- 2. work per request ----------------------------------------------------------------------------


def test_a_cancelled_count_stops_and_the_next_reader_continues(tmp_path: Path) -> None:
    import threading

    from bot.web import logview

    log = tmp_path / "big.log"
    log.write_bytes(b"a line of the runner log\n" * 400_000)  # ~10 MB
    logview.clear_cache()
    cancel = threading.Event()
    cancel.set()
    with logview.cancellable(cancel), pytest.raises(logview.Cancelled):
        logview.read_tail(log, 10, block_bytes=64 * 1024)
    index = logview.cached_index(log, block_bytes=64 * 1024)
    assert index is not None and not index.complete  # it stopped before counting the file
    page = logview.read_tail(log, 10, block_bytes=64 * 1024)
    assert page.total_lines == 400_000


def test_healthz_is_answered_while_every_page_thread_is_busy(site: Site) -> None:
    import asyncio
    import threading

    from aiohttp.test_utils import TestClient, TestServer

    from bot.web.metrics import Metrics
    from bot.web.routes import FILE_WORK, make_app

    service = Service(site.config)
    release = threading.Event()

    async def scenario() -> None:
        app = make_app(service, Masker(()), Metrics(service.store))
        async with TestClient(TestServer(app)) as client:
            work = app[FILE_WORK]
            busy = [asyncio.ensure_future(work.run(600, release.wait)) for _ in range(4)]  # 2 threads, 4 jobs
            health = await client.get("/healthz")
            assert health.status == 200 and (await health.json())["ok"] is True
            assert not any(b.done() for b in busy)  # the page threads were all still busy meanwhile
            release.set()
            await asyncio.gather(*busy)

    try:
        asyncio.run(scenario())
    finally:
        release.set()
        service.close()


@pytest.mark.writes_runs
def test_a_page_over_its_time_is_a_clear_503(site: Site, junit: Path) -> None:
    run = make_run(site.runs_dir, junit)
    (run / "run.log").write_bytes(b"x\n" * 20_000_000)  # 40 MB: counting it takes many blocks
    config = settled(site.config)
    config = replace(config, web=replace(config.web, request_timeout_s=0.001))
    got = fetch_all(config, Masker(()), [f"/runs/{RUN_ID}/log?tail=1"])
    status, body = got[f"/runs/{RUN_ID}/log?tail=1"]
    assert status == 503 and "web.request_timeout_s" in body


@pytest.mark.writes_runs
def test_a_hostile_canonical_record_is_a_problem_not_a_hang(site: Site, tmp_path: Path) -> None:
    (site.warm_dir / "fifo-recipe").mkdir()
    os.mkfifo(site.warm_dir / "fifo-recipe" / "canonical.json")
    (site.warm_dir / "linked-recipe").mkdir()
    (site.warm_dir / "linked-recipe" / "canonical.json").symlink_to(outside_file(tmp_path))
    report = guarded_ingest(site.store, site.config)
    problems = "\n".join(report.problems)
    assert "canonical.json is not a regular file inside the run (a FIFO)" in problems
    assert "canonical.json is not a regular file inside the run (it leads outside" in problems
    assert "OUTSIDE-SECRET" not in problems


@pytest.mark.writes_runs
def test_a_client_that_goes_away_stops_its_page_work(site: Site, junit: Path) -> None:
    """A tail of an 8 GiB (sparse) log is asked for and the client leaves: the count stops, unfinished."""
    import asyncio
    import time

    from bot.web import logview
    from bot.web.metrics import Metrics
    from bot.web.routes import FILE_WORK, make_app
    from bot.web.server import start_server
    from demo.devserver.process import free_port

    run = make_run(site.runs_dir, junit)
    config = settled(site.config)
    guarded_ingest(site.store, config)
    with (run / "run.log").open("wb") as f:
        f.truncate(8 * 1024**3)  # sparse: no disk, but every byte must be read to count lines
    service = Service(config)
    logview.clear_cache()

    async def scenario() -> None:
        app = make_app(service, Masker(()), Metrics(service.store))
        port = free_port()
        runner = await start_server(app, f"127.0.0.1:{port}")
        try:
            work = app[FILE_WORK]
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"GET /runs/{RUN_ID}/log?tail=1 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            await writer.drain()
            deadline = time.monotonic() + 60
            while not work.active:  # the count has started
                assert time.monotonic() < deadline
                await asyncio.sleep(0.01)
            writer.transport.abort()  # the client goes away mid-count
            while work.active:
                assert time.monotonic() < deadline, "the page work went on after the client left"
                await asyncio.sleep(0.01)
        finally:
            await runner.cleanup()

    try:
        asyncio.run(scenario())
    finally:
        service.close()
    index = logview.cached_index(Path(os.path.realpath(run / "run.log")))
    assert index is not None and not index.complete


def test_time_parsing_and_formatting_are_total() -> None:
    from bot.artifacts.timefmt import iso, parse_time, short

    for bad in (1e20, -5, float("nan"), float("inf"), 10**400, "NaN", "1e20", "9999-12-31T23:59:59Z", "0", True):
        assert parse_time(bad) is None, bad
    assert parse_time("2026-06-18T10:00:00Z") == 1781776800.0
    for odd in (1e20, float("nan"), float("-inf"), -1e300):
        assert iso(odd) is None and short(odd) == "?"
    assert iso(0.0) == "1970-01-01T00:00:00Z"  # formatting shows any calendar time; parsing is what is strict


# --- issue 25, item 13d: a JUnit dir linked outside the run ------------------------------------------


@pytest.mark.writes_runs
def test_a_junit_dir_linked_outside_the_run_is_a_note_and_lists_nothing(
    site: Site, junit: Path, tmp_path: Path
) -> None:
    """A run whose `junit` is a link to a dir elsewhere: none of the names there become tiers or notes."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for i in range(106):  # what the reproduction saw: ~106 outside names as `unver` tiers in chat
        (elsewhere / f"outside-name-{i:03d}.xml").write_text("<testsuite/>")
    shutil.copy(junit, elsewhere / JUNIT_NAME)  # even a real JUnit file there is not read
    run = make_run(site.runs_dir, junit)
    shutil.rmtree(run / "junit")
    (run / "junit").symlink_to(elsewhere)
    config = settled(site.config)
    guarded_ingest(site.store, config)
    assert [t.name for t in site.store.results.tiers(RUN_ID)] == ["custom"]  # from results.json alone
    notes = _notes(site)
    assert any(n.startswith("junit-unreadable: junit is not a directory inside the run") for n in notes), notes
    assert not any("outside-name" in n for n in notes), notes
    text = _why_text(site)
    assert "outside-name" not in text and "junit is not a directory inside the run" in text
    assert {f.junit_file for f in site.store.results.failures(RUN_ID)} == {"results.json"}  # no JUnit was read


@pytest.mark.writes_runs
def test_a_junit_dir_linked_inside_the_run_is_followed(site: Site, junit: Path) -> None:
    run = make_run(site.runs_dir, junit)
    (run / "junit").rename(run / "reports")
    (run / "junit").symlink_to("reports")
    guarded_ingest(site.store, settled(site.config))
    assert any(f.test == FAILING for f in site.store.results.failures(RUN_ID)), site.store.results.failures(RUN_ID)
    assert not any(n.startswith("junit-unreadable") for n in _notes(site))
