"""The chat side of the store: outbox and handled commands.

Marking a command handled and queueing its answer happen in one transaction, so after a crash a
command is either not handled (and is handled again from the unadvanced sync token) or handled with
its answer safely queued — never answered twice, never lost.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from bot.store.db import Store


@dataclass(frozen=True)
class Outgoing:
    """A message the bot means to send."""

    room_id: str
    event_type: str
    content: dict[str, Any]


@dataclass(frozen=True)
class QueuedMessage:
    id: int
    txn_id: str
    room_id: str
    event_type: str
    content: dict[str, Any]
    attempts: int


class ChatStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    def is_handled(self, event_id: str) -> bool:
        return bool(self.store.query("SELECT 1 FROM handled_events WHERE event_id = ?", (event_id,)))

    def handle(self, event_id: str, room_id: str, sender: str, command: str, messages: list[Outgoing]) -> bool:
        """Record the command as handled and queue its messages atomically; False if it already was."""
        with self.store.transaction() as c:
            if c.execute("SELECT 1 FROM handled_events WHERE event_id = ?", (event_id,)).fetchone():
                return False
            c.execute(
                "INSERT INTO handled_events (event_id, room_id, sender, command, handled_at) VALUES (?,?,?,?,?)",
                (event_id, room_id, sender, command, time.time()),
            )
            self._enqueue(c, messages)
        return True

    def enqueue(self, messages: list[Outgoing]) -> list[str]:
        """Queue messages; returns their transaction ids (to find their event ids once sent)."""
        with self.store.transaction() as c:
            return self._enqueue(c, messages)

    @staticmethod
    def _enqueue(c: Any, messages: list[Outgoing]) -> list[str]:
        now = time.time()
        rows = [(f"ccci-{uuid.uuid4().hex}", m.room_id, m.event_type, json.dumps(m.content), now) for m in messages]
        c.executemany(
            "INSERT INTO outbox (txn_id, room_id, event_type, content_json, created_at) VALUES (?,?,?,?,?)", rows
        )
        return [r[0] for r in rows]

    def pending(self, limit: int = 50) -> list[QueuedMessage]:
        rows = self.store.query(
            "SELECT id, txn_id, room_id, event_type, content_json, attempts FROM outbox"
            " WHERE sent_at IS NULL ORDER BY id LIMIT ?",
            (limit,),
        )
        return [QueuedMessage(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5]) for r in rows]

    def mark_sent(self, message_id: int, event_id: str) -> None:
        with self.store.transaction() as c:
            c.execute("UPDATE outbox SET sent_at = ?, event_id = ? WHERE id = ?", (time.time(), event_id, message_id))

    def mark_failed(self, message_id: int, error: str) -> None:
        with self.store.transaction() as c:
            c.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?", (error[:500], message_id)
            )

    def pending_count(self) -> int:
        return int(self.store.query("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")[0][0])

    def sent_event_id(self, txn_id: str) -> str | None:
        rows = self.store.query("SELECT event_id FROM outbox WHERE txn_id = ?", (txn_id,))
        return str(rows[0][0]) if rows and rows[0][0] else None
