"""One log line for an event that may happen a million times: the first at once, then a count per interval.

A flood (slow clients, a full descriptor table) repeats the same event thousands of times a second;
logging each one filled 600 MB in three minutes. A :class:`Tally` logs the first occurrence, counts the
rest, and says how many there were at most once per ``interval_s`` (and when it is closed).
"""

from __future__ import annotations

import asyncio
import logging


class Tally:
    """Counts one kind of event; call it from the event loop (the report is a timer on it)."""

    def __init__(self, logger: logging.Logger, what: str, level: int = logging.WARNING, interval_s: float = 60.0):
        self.logger = logger
        self.what = what
        self.level = level
        self.interval_s = interval_s
        self.total = 0
        self.unreported = 0
        self.last_detail = ""
        self.timer: asyncio.TimerHandle | None = None

    def add(self, detail: str) -> None:
        """Count one event: the first is logged at once, the rest in a count at the end of the interval."""
        self.total += 1
        self.last_detail = detail
        if self.total == 1:
            self.logger.log(
                self.level,
                "%s: %s (repeats are counted: one line per %g s at most)",
                self.what,
                detail,
                self.interval_s,
            )
            self._arm()
            return
        self.unreported += 1

    def _arm(self) -> None:
        try:
            self.timer = asyncio.get_running_loop().call_later(self.interval_s, self._tick)
        except RuntimeError:  # no loop (a unit test): the count is said on close()
            self.timer = None

    def _tick(self) -> None:
        self.report()
        self._arm()

    def report(self) -> None:
        """Log how many went unlogged since the last line; nothing if none did."""
        if self.unreported:
            self.logger.log(
                self.level,
                "%s: %d more in the last %g s (%d in all); the last: %s",
                self.what,
                self.unreported,
                self.interval_s,
                self.total,
                self.last_detail,
            )
        self.unreported = 0

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.unreported:
            self.logger.log(
                self.level,
                "%s: %d more since the last line (%d in all); the last: %s",
                self.what,
                self.unreported,
                self.total,
                self.last_detail,
            )
        self.unreported = 0
