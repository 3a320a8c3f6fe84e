"""The runner's log: timestamped harness lines interleaved with raw tool output.

Kept as bytes on disk because real runner logs carry ANSI codes, carriage returns and now and
then bytes that are not UTF-8; the bot has to cope with all of it.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from demo.sample.clock import Clock, iso_z


class RunLog:
    """Appends to `run.log`; harness lines carry the clock's time at the current progress."""

    def __init__(self, path: Path, clock: Clock) -> None:
        self._file: BinaryIO = path.open("ab")
        self._clock = clock
        self.progress = 0.0

    def at(self, progress: float) -> None:
        """Move the run's progress (0..1) forward; later lines are stamped accordingly."""
        self.progress = max(self.progress, progress)

    def line(self, text: str) -> None:
        """A harness line: `[2026-06-14T03:00:05Z] text`."""
        self._file.write(f"[{iso_z(self._clock.at(self.progress))}] {text}\n".encode())

    def raw(self, text: str | bytes) -> None:
        """Tool output as it came, unstamped; a missing final newline is added."""
        data = text.encode() if isinstance(text, str) else text
        if data and not data.endswith(b"\n"):
            data += b"\n"
        self._file.write(data)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> RunLog:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
