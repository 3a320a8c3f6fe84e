"""A rerun's log: the steps' output, capped, and the old logs rotated away.

The runner runs recipes' code, whose output has no bound: 300 MB of it would otherwise be 300 MB in
``data_dir``. A log keeps the first half of ``runner.log_max_bytes`` as it comes (on disk at once, so a
rerun in progress can be followed) and the last half in memory, written after a marker line that
says how many bytes were cut between them when the log is closed. A bot killed mid-rerun leaves only
the head; the run dir's own log is the full record.

A write that fails (a full disk: ENOSPC) is not raised into the rerun: the log remembers the error
in :attr:`CappedLog.failed`, drops everything after it, and the rerun ends with that reason.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections import deque
from pathlib import Path
from typing import BinaryIO

LOG_SUFFIX = ".log"
LOG_DIR = "reruns"  # under data_dir
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")  # what bot.reruns.runids makes, and no more


def log_file(data_dir: Path, run_id: str) -> Path | None:
    """``data_dir/reruns/<run id>.log``, or None for a name that is no rerun's run id (nothing else is served)."""
    if not _RUN_ID.match(run_id) or ".." in run_id:
        return None
    return data_dir / LOG_DIR / f"{run_id}{LOG_SUFFIX}"


def live_log_url(public_url: str | None, run_id: str) -> str | None:
    """The bot's page that follows a rerun's log as it grows (bot.web.routes), when the pages are public."""
    return f"{public_url.rstrip('/')}/reruns/{run_id}/log" if public_url else None


class CappedLog:
    """Output bytes into a file: the head as it comes, the tail on :meth:`close`, a marker between."""

    def __init__(self, handle: BinaryIO, max_bytes: int) -> None:
        self.handle = handle
        self.tail_max = max_bytes // 2
        self.head_left = max_bytes - self.tail_max
        self.head_bytes = self.head_left
        self.tail: deque[bytes] = deque()
        self.tail_size = 0
        self.cut = 0
        self.failed: OSError | None = None
        self._lock = threading.Lock()  # the head is written from a worker thread, the bot's own lines are not

    @classmethod
    def create(cls, path: Path, max_bytes: int) -> CappedLog:
        """A new log at ``path`` (its dir made); ``OSError`` if it cannot be created."""
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(path.open("wb", buffering=0), max_bytes)

    @property
    def on_disk(self) -> bool:
        """Whether the next write goes to the file (the head) rather than to memory (the tail)."""
        return self.head_left > 0 and self.failed is None

    def write(self, data: bytes) -> None:
        with self._lock:
            self._write(data)

    def _write(self, data: bytes) -> None:
        if self.failed is not None or not data:
            return
        if self.head_left > 0:
            head = data[: self.head_left]
            self.head_left -= len(head)
            self._disk(head)
            data = data[len(head) :]
        if data:
            self.tail.append(data)
            self.tail_size += len(data)
            while self.tail_size - len(self.tail[0]) >= self.tail_max:  # the oldest chunk is not needed
                self.cut += len(self.tail[0])
                self.tail_size -= len(self.tail.popleft())

    def close(self) -> None:
        """Write the marker and the tail, then close the file (a failure is kept in :attr:`failed`)."""
        with self._lock:
            self._close()

    def _close(self) -> None:
        try:
            if self.failed is None:
                tail = b"".join(self.tail)
                excess = max(0, len(tail) - self.tail_max)
                self.cut += excess
                if self.cut:
                    self._disk(self._marker())
                self._disk(tail[excess:])
        finally:
            self.tail.clear()
            try:
                self.handle.close()
            except OSError as exc:
                self.failed = self.failed or exc

    def _marker(self) -> bytes:
        return (
            f"\n[ccci-bot] … {self.cut:,} bytes of output cut here (a rerun log keeps its first {self.head_bytes:,}"
            f" and its last {self.tail_max:,} bytes: runner.log_max_bytes) …\n"
        ).encode()

    def _disk(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                written = self.handle.write(view)
                view = view[written or 0 :]
        except OSError as exc:
            self.failed = exc


def rotate(log_dir: Path, keep: int) -> list[str]:
    """Delete the oldest rerun logs so that at most ``keep`` remain (by modification time); their names.

    Only regular files named ``*.log`` directly in ``log_dir``; anything that cannot be read or removed
    is left as it is (rotation never stops a rerun).
    """
    logs: list[tuple[float, str]] = []
    try:
        with os.scandir(log_dir) as entries:
            for entry in entries:
                if entry.name.endswith(LOG_SUFFIX) and entry.is_file(follow_symlinks=False):
                    with contextlib.suppress(OSError):
                        logs.append((entry.stat(follow_symlinks=False).st_mtime, entry.name))
    except OSError:
        return []
    logs.sort()
    removed: list[str] = []
    for _, name in logs[: max(0, len(logs) - keep)]:
        with contextlib.suppress(OSError):
            (log_dir / name).unlink()
            removed.append(name)
    return removed
