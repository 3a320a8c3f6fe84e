"""Clocks for the stand-in runner and the time formats cc-ci writes.

Sample runs execute in about a second but must look like runs of twenty minutes at scenario
times, so the runner asks a clock for "the time at this much progress through the run".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Gives the time at a point of a run's progress (0.0 = start, 1.0 = end)."""

    def at(self, progress: float) -> datetime: ...


@dataclass(frozen=True)
class WallClock:
    """Real time: for the runner used on its own, outside a scenario."""

    def at(self, progress: float) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class ScenarioClock:
    """Maps progress linearly onto the scenario's [started, finished] window."""

    started: datetime
    finished: datetime

    def at(self, progress: float) -> datetime:
        return self.started + (self.finished - self.started) * min(max(progress, 0.0), 1.0)


def iso_z(moment: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, to the second, as results.json carries it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def compact(moment: datetime) -> str:
    """cc-ci's compact form (`20260617T050314Z`), used by canonical.json and older runs."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def parse_iso(text: str) -> datetime:
    """Parse an ISO 8601 time; a naive time is taken as UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
