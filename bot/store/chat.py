"""The chat side of the store: the command inbox, the outbox and handled commands.

A command is recorded in the inbox before the sync token moves past it; marking it handled (out of
the inbox) and queueing its answer happen in one transaction. So after a crash a command is either
still in the inbox (and is resumed) or handled with its answer safely queued — never answered
twice, never lost.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from bot.matrix.events import ChatMessage
from bot.store.database import Database

# An event id not known yet: "txn:<txn id>" of a message queued earlier, filled in when sending.
REF_PREFIX = "txn:"


def ref(txn_id: str) -> str:
    """Point a relation at a message that is queued but maybe not sent yet."""
    return f"{REF_PREFIX}{txn_id}"


@dataclass(frozen=True)
class Outgoing:
    """A message the bot means to send."""

    room_id: str
    event_type: str
    content: dict[str, Any]
    txn_id: str | None = None  # set beforehand when a message queued with it must refer to it


def new_txn_id() -> str:
    return f"ccci-{uuid.uuid4().hex}"


@dataclass(frozen=True)
class QueuedMessage:
    id: int
    txn_id: str
    room_id: str
    event_type: str
    content: dict[str, Any]
    attempts: int


class ChatStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def is_handled(self, event_id: str) -> bool:
        return bool(self._db._query("SELECT 1 FROM handled_events WHERE event_id = ?", (event_id,)))

    def record(self, messages: list[ChatMessage]) -> int:
        """Put commands in the inbox (those handled or recorded already are skipped); how many were new."""
        now = time.time()
        added = 0
        with self._db._transaction() as c:
            for m in messages:
                if c.execute("SELECT 1 FROM handled_events WHERE event_id = ?", (m.event_id,)).fetchone():
                    continue
                cur = c.execute(
                    "INSERT OR IGNORE INTO command_inbox (event_id, room_id, sender, body, thread_root, ts_ms,"
                    " msgtype, encrypted, sender_key_known, recorded_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (
                        m.event_id,
                        m.room_id,
                        m.sender,
                        m.body,
                        m.thread_root,
                        m.ts_ms,
                        m.msgtype,
                        m.encrypted,
                        m.sender_key_known,
                        now,
                    ),
                )
                added += cur.rowcount
        return added

    def unanswered(self) -> list[tuple[ChatMessage, bool]]:
        """The inbox in the order the commands were sent, each with whether its 👀 was queued."""
        rows = self._db._query(
            "SELECT event_id, room_id, sender, body, thread_root, ts_ms, acked FROM command_inbox ORDER BY ts_ms, rowid"
        )
        return [(ChatMessage(r[0], r[1], r[2], r[3], "m.text", r[5], r[4]), bool(r[6])) for r in rows]

    def ack(self, event_id: str, messages: list[Outgoing]) -> None:
        """Queue the 'on it' reaction and remember it, so a resumed command does not react twice."""
        with self._db._transaction() as c:
            c.execute("UPDATE command_inbox SET acked = 1 WHERE event_id = ?", (event_id,))
            self._enqueue(c, messages)

    def handle(self, event_id: str, room_id: str, sender: str, command: str, messages: list[Outgoing]) -> bool:
        """Record the command as handled and queue its messages atomically; False if it already was."""
        with self._db._transaction() as c:
            c.execute("DELETE FROM command_inbox WHERE event_id = ?", (event_id,))
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
        with self._db._transaction() as c:
            return self._enqueue(c, messages)

    @staticmethod
    def _enqueue(c: Any, messages: list[Outgoing]) -> list[str]:
        now = time.time()
        rows = [(m.txn_id or new_txn_id(), m.room_id, m.event_type, json.dumps(m.content), now) for m in messages]
        c.executemany(
            "INSERT INTO outbox (txn_id, room_id, event_type, content_json, created_at) VALUES (?,?,?,?,?)", rows
        )
        return [r[0] for r in rows]

    def pending(self, limit: int = 50) -> list[QueuedMessage]:
        rows = self._db._query(
            "SELECT id, txn_id, room_id, event_type, content_json, attempts FROM outbox"
            " WHERE sent_at IS NULL ORDER BY id LIMIT ?",
            (limit,),
        )
        return [QueuedMessage(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5]) for r in rows]

    def mark_sent(self, message_id: int, event_id: str) -> None:
        with self._db._transaction() as c:
            c.execute("UPDATE outbox SET sent_at = ?, event_id = ? WHERE id = ?", (time.time(), event_id, message_id))

    def mark_failed(self, message_id: int, error: str) -> None:
        with self._db._transaction() as c:
            c.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?", (error[:500], message_id)
            )

    def pending_count(self) -> int:
        return int(self._db._query("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")[0][0])

    def resolve_refs(self, content: dict[str, Any]) -> dict[str, Any] | None:
        """Fill in the event ids of ``txn:`` references (edits, thread replies of queued messages).

        A reference to a message the homeserver refused drops the relation; an edit of one is dropped
        (None), since there is nothing to edit. The outbox sends in order, so the target went first.
        """
        relates = content.get("m.relates_to")
        if not isinstance(relates, dict):
            return content
        relates = dict(relates)
        target = relates.get("event_id")
        if isinstance(target, str) and target.startswith(REF_PREFIX):
            event_id = self.sent_event_id(target[len(REF_PREFIX) :])
            if event_id is None:
                if relates.get("rel_type") == "m.replace":
                    return None
                relates.pop("rel_type", None)
                relates.pop("event_id", None)
                relates.pop("is_falling_back", None)
            else:
                relates["event_id"] = event_id
        reply = relates.get("m.in_reply_to")
        if isinstance(reply, dict) and str(reply.get("event_id", "")).startswith(REF_PREFIX):
            event_id = self.sent_event_id(str(reply["event_id"])[len(REF_PREFIX) :])
            if event_id is None:
                relates.pop("m.in_reply_to")
            else:
                relates["m.in_reply_to"] = {"event_id": event_id}
        resolved = dict(content)
        if relates:
            resolved["m.relates_to"] = relates
        else:
            resolved.pop("m.relates_to")
        return resolved

    def sent_content(self, room_id: str, event_id: str) -> dict[str, Any] | None:
        """What the bot sent as ``event_id`` in ``room_id`` (None: not a message of this bot's)."""
        rows = self._db._query(
            "SELECT content_json FROM outbox WHERE event_id = ? AND room_id = ? AND event_type = 'm.room.message'",
            (event_id, room_id),
        )
        if not rows:
            return None
        content = json.loads(rows[0][0])
        return content if isinstance(content, dict) else None

    def sent_event_id(self, txn_id: str) -> str | None:
        rows = self._db._query("SELECT event_id FROM outbox WHERE txn_id = ?", (txn_id,))
        return str(rows[0][0]) if rows and rows[0][0] else None
