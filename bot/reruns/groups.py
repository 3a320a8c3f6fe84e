"""A step's process group: each step starts in a session of its own, and whatever is left of it goes.

cc-ci's runner starts children of its own, and a recipe's code may start daemons. When a step ends —
on its own, by its deadline or by a cancel — every process still in its group gets SIGTERM, and
SIGKILL after a grace period. A process that leaves the group on purpose (``setsid``, a double
fork into a new session) is out of reach here; on the cc-ci host the steps run as systemd units,
whose cgroup systemd ends (see :mod:`bot.reruns.units`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path

GRACE_S = 10.0
KILLED_WAIT_S = 2.0  # after SIGKILL a process is gone at once
GROUP_POLL_S = 0.05


def kill_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone: nothing to kill
        os.killpg(pgid, sig)


def group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs; zombies do not count.

    An orphaned member that died is a zombie until init reaps it, and in a container init may never
    do so: ``killpg(pgid, 0)`` would then say the group exists for ever.
    """
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member we may not signal still exists
        pass
    try:
        entries = list(os.scandir("/proc"))
    except OSError:
        return True  # no /proc: trust killpg
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(entry.path, "stat").read_bytes().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            return True
    return False


async def gone(pgid: int, seconds: float) -> bool:
    """Wait up to ``seconds`` for the group to be gone. No event says when a process that is not our
    child dies, so this polls."""
    deadline = time.monotonic() + seconds
    while await asyncio.to_thread(group_alive, pgid):  # reads /proc: off the event loop
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(GROUP_POLL_S)
    return True


async def end_group(pgid: int) -> None:
    """SIGTERM to whatever is left of the group, SIGKILL to what is still there after the grace period."""
    if not await asyncio.to_thread(group_alive, pgid):
        return
    kill_group(pgid, signal.SIGTERM)
    if await gone(pgid, GRACE_S):
        return
    kill_group(pgid, signal.SIGKILL)
    await gone(pgid, KILLED_WAIT_S)
