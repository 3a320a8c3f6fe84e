"""Driving Debian's headless Chromium from tests: the rendered DOM of a page, or a screenshot of it.

Chromium runs as a plain subprocess (argv list, no shell) with a fresh profile in the test's tmp dir, no
sandbox (CI runs as root, where the sandbox refuses to start), no proxy and every background service off,
so it talks to nothing but the URL it is given — tests only ever give it 127.0.0.1. Its whole process
group is killed afterwards, so no renderer outlives the test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

TIMEOUT_S = 60.0
_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class BrowserError(RuntimeError):
    """Chromium failed, timed out or produced nothing; the message ends with its stderr tail."""


def chromium_path() -> str | None:
    """The Chromium binary, or ``None`` when it is not installed (``apt-get install -y chromium``)."""
    found = shutil.which("chromium")
    if found:
        return found
    return next((c for c in _CANDIDATES if os.access(c, os.X_OK)), None)


F = TypeVar("F", bound=Callable[..., Any])


def needs_chromium(test: F) -> F:
    """Marks a browser test (left out by `scripts/test.sh --fast`), skipped with the reason without Chromium."""
    skip = pytest.mark.skipif(chromium_path() is None, reason="Chromium is not installed (apt-get install -y chromium)")
    return pytest.mark.browser(skip(test))  # type: ignore[no-any-return]


def _argv(binary: str, profile: Path, *extra: str) -> list[str]:
    return [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-breakpad",
        "--disable-dev-shm-usage",
        "--no-proxy-server",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        *extra,
    ]


def _run(url: str, tmp_dir: Path, *extra: str) -> subprocess.CompletedProcess[bytes]:
    binary = chromium_path()
    if binary is None:
        raise BrowserError("Chromium is not installed (apt-get install -y chromium)")
    tmp_dir.mkdir(parents=True, exist_ok=True)
    profile = Path(tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_dir))
    # Caches and config Chromium writes outside its profile go to the tmp dir too, never to $HOME.
    env = {**os.environ, "XDG_CONFIG_HOME": str(profile / "config"), "XDG_CACHE_HOME": str(profile / "cache")}
    argv = [*_argv(binary, profile, *extra), url]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        out, err = proc.communicate()
        raise BrowserError(f"chromium timed out after {TIMEOUT_S:.0f} s on {url}{_tail(err)}") from None
    finally:
        _kill_group(proc.pid)
    if proc.returncode != 0:
        raise BrowserError(f"chromium exited with {proc.returncode} on {url}{_tail(err)}")
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def _kill_group(pgid: int) -> None:
    """Kill what is left of the process group this module started (renderers, zygotes)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _tail(stderr: bytes, lines: int = 20) -> str:
    text = stderr.decode("utf-8", "replace").strip()
    return "\n--- chromium stderr (tail) ---\n" + "\n".join(text.splitlines()[-lines:]) if text else ""


def dump_dom(url: str, tmp_dir: Path) -> str:
    """The page's DOM after load (scripts have run), serialised as HTML."""
    done = _run(url, tmp_dir, "--dump-dom")
    dom = done.stdout.decode("utf-8", "replace")
    if not dom.strip():
        raise BrowserError(f"chromium printed no DOM for {url}{_tail(done.stderr)}")
    return dom


def screenshot(url: str, out_png: Path, tmp_dir: Path, width: int = 1280, height: int = 900) -> Path:
    """A ``width`` x ``height`` PNG of the page, written to ``out_png``."""
    out_png = out_png.resolve()
    out_png.parent.mkdir(parents=True, exist_ok=True)
    out_png.unlink(missing_ok=True)
    # the virtual time budget lets redirects and layout settle before the picture is taken
    done = _run(
        url, tmp_dir, f"--screenshot={out_png}", f"--window-size={width},{height}", "--virtual-time-budget=5000"
    )
    if not out_png.is_file() or not out_png.read_bytes().startswith(PNG_MAGIC):
        raise BrowserError(f"chromium wrote no PNG to {out_png} for {url}{_tail(done.stderr)}")
    return out_png
