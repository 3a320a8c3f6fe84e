"""Sweeps: the runs table read by sweep (an ingest groups runs into sweeps: bot.ingest.sweeps)."""

from __future__ import annotations

from typing import NamedTuple

from bot.model.records import RunRow, RunStatus
from bot.store.database import Database
from bot.store.runs import RUN_COLUMNS, run_row


class SweepRunTimes(NamedTuple):
    """When one sweep run last did something (by cc-ci's clock) and was last read (by the bot's)."""

    sweep_id: str
    run_id: str
    last_activity: float  # its latest start or finish; 0 when it has neither
    ingested_at: float


class SweepResult(NamedTuple):
    """One recipe's result in one sweep run."""

    recipe: str
    sweep_id: str
    status: RunStatus
    unverified: bool
    finished: float | None


class SweepStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def latest_id(self) -> str | None:
        """The sweep that finished last: one step along the runs_latest_sweep index."""
        rows = self._db._query(
            "SELECT sweep_id FROM runs WHERE kind = 'sweep' AND sweep_id IS NOT NULL ORDER BY finished DESC LIMIT 1"
        )
        return str(rows[0][0]) if rows else None

    def previous_id(self, sweep_id: str) -> str | None:
        """The sweep before this one in sweep-id order (ids sort by time), or None for the first."""
        rows = self._db._query("SELECT MAX(sweep_id) FROM runs WHERE sweep_id < ?", (sweep_id,))
        return str(rows[0][0]) if rows and rows[0][0] is not None else None

    def ids(self) -> list[str]:
        rows = self._db._query("SELECT DISTINCT sweep_id FROM runs WHERE sweep_id IS NOT NULL ORDER BY sweep_id")
        return [str(r[0]) for r in rows]

    def has(self, sweep_id: str) -> bool:
        return bool(self._db._query("SELECT 1 FROM runs WHERE sweep_id = ? LIMIT 1", (sweep_id,)))

    def runs(self, sweep_id: str) -> list[RunRow]:
        rows = self._db._query(
            f"SELECT {RUN_COLUMNS} FROM runs WHERE sweep_id = ? ORDER BY recipe, finished",  # noqa: S608
            (sweep_id,),
        )
        return [run_row(r) for r in rows]

    def run_times(self) -> list[SweepRunTimes]:
        """Every sweep run's activity and ingest times, by sweep id."""
        rows = self._db._query(
            "SELECT sweep_id, run_id, COALESCE(MAX(started, finished), finished, started, 0), ingested_at FROM runs"
            " WHERE kind = 'sweep' AND sweep_id IS NOT NULL ORDER BY sweep_id"
        )
        return [SweepRunTimes(str(r[0]), str(r[1]), float(r[2]), float(r[3])) for r in rows]

    def results(self, upto: str) -> list[SweepResult]:
        """Every recipe's sweep runs up to and including sweep ``upto``, by recipe, sweep, then finish."""
        rows = self._db._query(
            "SELECT recipe, sweep_id, status, unverified, finished FROM runs"
            " WHERE kind = 'sweep' AND sweep_id IS NOT NULL AND sweep_id <= ?"
            " ORDER BY recipe, sweep_id, finished",
            (upto,),
        )
        return [SweepResult(str(r[0]), str(r[1]), RunStatus(r[2]), bool(r[3]), r[4]) for r in rows]
