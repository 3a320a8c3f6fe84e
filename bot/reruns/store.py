"""Reruns in SQLite, so the queue and the rerun in flight survive a restart of the bot."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from bot.store.db import Store

ACTIVE = ("queued", "waiting", "running")


@dataclass
class Rerun:
    id: int
    recipe: str
    version: str
    times: int
    requested_by: str
    room_id: str | None
    event_id: str | None
    state: str
    created_at: float
    attempts: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""


class RerunStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    def _rows(self, where: str, params: tuple[object, ...] = ()) -> list[Rerun]:
        rows = self.store.query(
            "SELECT id, recipe, version, times, requested_by, room_id, event_id, state, created_at, attempts_json,"  # noqa: S608 - `where` is one of this class's fixed fragments
            f" message FROM reruns WHERE {where} ORDER BY id",
            params,
        )
        return [Rerun(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], json.loads(r[9]), r[10]) for r in rows]

    def add(self, recipe: str, version: str, times: int, by: str, room_id: str | None, event_id: str | None) -> Rerun:
        with self.store.transaction() as c:
            cur = c.execute(
                "INSERT INTO reruns (recipe, version, times, requested_by, room_id, event_id, state, created_at)"
                " VALUES (?,?,?,?,?,?,'queued',?)",
                (recipe, version, times, by, room_id, event_id, time.time()),
            )
            new_id = int(cur.lastrowid or 0)
        return self.get(new_id)

    def get(self, rerun_id: int) -> Rerun:
        return self._rows("id = ?", (rerun_id,))[0]

    def active(self) -> list[Rerun]:
        return self._rows("state IN ('queued', 'waiting', 'running')")

    def queued(self) -> list[Rerun]:
        return self._rows("state = 'queued'")

    def set_state(self, rerun_id: int, state: str, message: str = "") -> None:
        now = time.time()
        with self.store.transaction() as c:
            c.execute(
                "UPDATE reruns SET state = ?, message = ?,"
                " started_at = CASE WHEN ? = 'running' AND started_at IS NULL THEN ? ELSE started_at END,"
                " finished_at = CASE WHEN ? NOT IN ('queued', 'waiting', 'running') THEN ? ELSE finished_at END"
                " WHERE id = ?",
                (state, message, state, now, state, now, rerun_id),
            )

    def add_attempt(self, rerun_id: int, attempt: dict[str, Any]) -> None:
        with self.store.transaction() as c:
            row = c.execute("SELECT attempts_json FROM reruns WHERE id = ?", (rerun_id,)).fetchone()
            attempts = [*json.loads(row[0]), attempt]
            c.execute("UPDATE reruns SET attempts_json = ? WHERE id = ?", (json.dumps(attempts), rerun_id))
