"""Encrypted events the bot could not decrypt yet, kept beside the sync token so a restart keeps
retrying them instead of forgetting (the token has moved past them by then)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from bot.matrix.events import EncryptedEvent
from bot.store.database import Database


@dataclass(frozen=True)
class PendingDecrypt:
    event: EncryptedEvent
    seen_at: float  # when the bot first failed to decrypt it: the give-up clock runs from here


class PendingDecrypts:
    def __init__(self, db: Database) -> None:
        self._db = db

    def all(self) -> list[PendingDecrypt]:
        """Every kept event, in the order they were kept."""
        rows = self._db._query(
            "SELECT event_id, room_id, sender, ts_ms, source_json, seen_at FROM undecrypted_events ORDER BY rowid"
        )
        return [PendingDecrypt(EncryptedEvent(r[0], r[1], r[2], r[3], _source(r[4])), r[5]) for r in rows]

    def update(self, keep: list[PendingDecrypt], forget: list[str]) -> None:
        """Keep new events and forget those decrypted or given up on, in one transaction."""
        with self._db._transaction() as c:
            c.executemany(
                "INSERT OR IGNORE INTO undecrypted_events (event_id, room_id, sender, ts_ms, source_json, seen_at)"
                " VALUES (?,?,?,?,?,?)",
                [
                    (
                        p.event.event_id,
                        p.event.room_id,
                        p.event.sender,
                        p.event.ts_ms,
                        json.dumps(p.event.source),
                        p.seen_at,
                    )
                    for p in keep
                ],
            )
            c.executemany("DELETE FROM undecrypted_events WHERE event_id = ?", [(e,) for e in forget])


def _source(text: str) -> dict[str, object]:
    """The event as the homeserver sent it; an empty one (never decrypts, so it is given up on in time)
    if the stored text is not a JSON object."""
    try:
        source = json.loads(text)
    except ValueError:
        return {}
    return source if isinstance(source, dict) else {}
