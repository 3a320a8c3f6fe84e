"""Running git in a recipe clone that the runner wrote, so that the clone cannot make git run a program.

A run's clone is hostile: its ``.git/config`` may name an fsmonitor, hooks or a transport helper. Every
git call of the bot goes through :func:`git` (text) or :func:`git_bytes`: an argv list (never a shell),
those settings forced off, no system or user config, a fixed PATH and a timeout.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

_NO_PROGRAMS = ("-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null", "-c", "protocol.allow=never")
_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent", "PATH": "/usr/bin:/bin:/usr/local/bin"}


def git(clone: Path, args: Sequence[str], timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """``git args`` in ``clone``, output as text; the caller checks the return code."""
    return subprocess.run(
        ["git", *_NO_PROGRAMS, "-C", str(clone), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=_ENV,
    )


def git_bytes(
    clone: Path, args: Sequence[str], stdin: bytes = b"", timeout: float = 30.0
) -> subprocess.CompletedProcess[bytes]:
    """``git args`` in ``clone`` fed ``stdin``, output as bytes (``cat-file --batch`` is length-prefixed)."""
    return subprocess.run(
        ["git", *_NO_PROGRAMS, "-C", str(clone), *args],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        check=False,
        env=_ENV,
    )


_HASH = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")  # SHA-1 or SHA-256 object names


def last_commit(checkout: Path, path: str, timeout: float = 10.0) -> str | None:
    """The full hash of the last commit that changed ``path`` in ``checkout`` (``git log -1 -- path``);
    None when there is none, the checkout is no git repository, or git fails or times out: a missing
    link is no error. Blocking: callers run it off the event loop."""
    if not checkout.is_dir():
        return None
    try:
        proc = git(checkout, ["--literal-pathspecs", "log", "-1", "--format=%H", "--", path], timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    found = proc.stdout.strip()
    return found if proc.returncode == 0 and _HASH.match(found) else None
