"""Reruns in SQLite, so the queue and the rerun in flight survive a restart of the bot.

States, attempt outcomes and results are stored as their enum values (:mod:`bot.model.reruns`).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field

from bot.model.reruns import ACTIVE, Attempt, RerunResult, RerunState
from bot.store.database import Database

_ACTIVE_SQL = ", ".join(f"'{s.value}'" for s in ACTIVE)


@dataclass
class Rerun:
    id: int
    recipe: str
    version: str
    times: int
    requested_by: str
    room_id: str | None
    event_id: str | None
    state: RerunState
    created_at: float
    attempts: list[Attempt] = field(default_factory=list)
    message: str = ""  # what the operator was last told
    result: RerunResult | None = None  # how it ended; None while active


class RerunStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def _rows(self, where: str, params: tuple[object, ...] = ()) -> list[Rerun]:
        rows = self._db._query(
            "SELECT id, recipe, version, times, requested_by, room_id, event_id, state, created_at, attempts_json,"  # noqa: S608 - `where` is one of this class's fixed fragments
            f" message, result FROM reruns WHERE {where} ORDER BY id",
            params,
        )
        return [
            Rerun(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                r[6],
                RerunState(r[7]),
                r[8],
                [Attempt.from_json(a) for a in json.loads(r[9])],
                r[10],
                RerunResult(r[11]) if r[11] is not None else None,
            )
            for r in rows
        ]

    def add(self, recipe: str, version: str, times: int, by: str, room_id: str | None, event_id: str | None) -> Rerun:
        with self._db._transaction() as c:
            cur = c.execute(
                "INSERT INTO reruns (recipe, version, times, requested_by, room_id, event_id, state, created_at)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (recipe, version, times, by, room_id, event_id, RerunState.QUEUED.value, time.time()),
            )
            new_id = int(cur.lastrowid or 0)
        return self.get(new_id)

    def get(self, rerun_id: int) -> Rerun:
        return self._rows("id = ?", (rerun_id,))[0]

    def active(self) -> list[Rerun]:
        return self._rows(f"state IN ({_ACTIVE_SQL})")

    def started_by(self, run_ids: list[str]) -> dict[str, str]:
        """Who asked for the reruns that made these runs (run id → requested_by), for those a rerun made."""
        wanted = set(run_ids)
        if not wanted:
            return {}
        found: dict[str, str] = {}
        for by, attempts in self._db._query(
            "SELECT requested_by, attempts_json FROM reruns WHERE attempts_json != '[]'"
        ):
            for a in json.loads(attempts):
                if a.get("run_id") in wanted:
                    found[a["run_id"]] = by
        return found

    def queued(self) -> list[Rerun]:
        return self._rows("state = ?", (RerunState.QUEUED.value,))

    def set_state(self, rerun_id: int, state: RerunState, message: str = "", result: RerunResult | None = None) -> None:
        """Move a rerun to ``state``; an ending state records when, and ``result``, how it ended."""
        now = time.time()
        with self._db._transaction() as c:
            c.execute(
                "UPDATE reruns SET state = ?, message = ?, result = ?,"
                " started_at = CASE WHEN ? AND started_at IS NULL THEN ? ELSE started_at END,"
                " finished_at = CASE WHEN ? THEN ? ELSE finished_at END"
                " WHERE id = ?",
                (
                    state.value,
                    message,
                    result.value if result is not None else None,
                    state is RerunState.RUNNING,
                    now,
                    not state.active,
                    now,
                    rerun_id,
                ),
            )

    def cancel_if_active(self, rerun_id: int, message: str) -> bool:
        """Cancel a rerun unless it has ended meanwhile; True if this call cancelled it."""
        with self._db._transaction() as c:
            cur = c.execute(
                f"UPDATE reruns SET state = ?, message = ?, result = ?, finished_at = ?"  # noqa: S608 - fixed fragment
                f" WHERE id = ? AND state IN ({_ACTIVE_SQL})",
                (RerunState.CANCELLED.value, message, RerunResult.CANCELLED.value, time.time(), rerun_id),
            )
            return cur.rowcount == 1

    def add_attempt(self, rerun_id: int, attempt: Attempt) -> None:
        with self._db._transaction() as c:
            row = c.execute("SELECT attempts_json FROM reruns WHERE id = ?", (rerun_id,)).fetchone()
            attempts = [*json.loads(row[0]), asdict(attempt)]
            c.execute("UPDATE reruns SET attempts_json = ? WHERE id = ?", (json.dumps(attempts), rerun_id))
