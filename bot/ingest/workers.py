"""Worker processes that exit when the process that started them dies, even by ``kill -9``.

A pool's workers otherwise block forever on their task queue once the parent is gone (four
processes left behind by one killed ingest). Two mechanisms, both in the worker's initializer:
Linux's ``PR_SET_PDEATHSIG`` (the kernel sends SIGKILL when the worker's parent thread dies — with
forkserver that parent is the fork server, which itself exits when the bot does), and a daemon thread
that watches the bot's pid and exits the worker once it is gone, for other systems and as a fallback.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading

PR_SET_PDEATHSIG = 1
WATCH_INTERVAL_S = 1.0


def _pdeathsig() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else (pid reused): treat as alive
        return True
    return True


def _watch(owner: int, parent: int, stop: threading.Event) -> None:
    while not stop.wait(WATCH_INTERVAL_S):  # a poll interval, not synchronisation: nothing signals death
        if not _alive(owner) or os.getppid() != parent:  # owner gone, or we were re-parented
            os._exit(1)  # no cleanup to do in a reader; exiting at once is the point


def die_with_parent(owner: int) -> None:
    """Pool initializer: make this worker exit when ``owner`` (the pid that made the pool) is gone."""
    _pdeathsig()
    if not _alive(owner):
        os._exit(1)
    threading.Thread(
        target=_watch, args=(owner, os.getppid(), threading.Event()), name="orphan-watch", daemon=True
    ).start()
