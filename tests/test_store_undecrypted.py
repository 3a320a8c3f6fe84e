"""The encrypted events the bot could not decrypt yet: their own table, and the move out of meta.

Before migration 16 they were one JSON object in the meta table (``e2ee.undecrypted``), written by the
bot as ``json.dumps({event_id: {room_id, sender, ts_ms, source, seen}})``; the migration moves the
well-formed entries into ``undecrypted_events`` and drops the blob.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from bot.matrix.events import EncryptedEvent
from bot.store import Store
from bot.store.schema import MIGRATIONS
from bot.store.undecrypted import PendingDecrypt
from tests import rawdb

TABLE = next(n for n, script in enumerate(MIGRATIONS) if "CREATE TABLE undecrypted_events" in script)


def source(event_id: str, room_id: str) -> dict[str, object]:
    """An m.room.encrypted event as the homeserver sends it (what the bot kept to decrypt later)."""
    return {
        "type": "m.room.encrypted",
        "event_id": event_id,
        "room_id": room_id,
        "sender": "@alice:x",
        "origin_server_ts": 1_700_000_000_000,
        "content": {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AwgA", "session_id": "s", "sender_key": "k"},
    }


def store_before_the_table(path: Path, blob: str | None) -> None:
    """A store as the bot left it before migration 16, with the pending events in meta."""
    conn = sqlite3.connect(path)
    for version, script in enumerate(MIGRATIONS[:TABLE], start=1):
        conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {version};\nCOMMIT;")
    conn.execute("INSERT INTO meta (key, value) VALUES ('matrix.since', 's42')")
    if blob is not None:
        conn.execute("INSERT INTO meta (key, value) VALUES ('e2ee.undecrypted', ?)", (blob,))
    conn.commit()
    conn.close()


def meta_keys(store: Store) -> set[str]:
    return {row[0] for row in rawdb.rows(store, "SELECT key FROM meta")}


def test_the_pending_events_in_meta_move_to_their_own_table_in_the_order_they_were_kept(tmp_path: Path) -> None:
    kept = {
        "$b": {"room_id": "!r", "sender": "@bob:x", "ts_ms": 2000, "source": source("$b", "!r"), "seen": 1700.5},
        "$a": {"room_id": "!r", "sender": "@alice:x", "ts_ms": 1000, "source": source("$a", "!r"), "seen": 1701},
        "$no-source": {"room_id": "!r", "sender": "@bob:x", "ts_ms": 3000, "seen": 1702.0},
        "$bad-ts": {"room_id": "!r", "sender": "@bob:x", "ts_ms": "soon", "source": {}, "seen": 1702.0},
    }
    store_before_the_table(tmp_path / "db.sqlite3", json.dumps(kept))
    store = Store(tmp_path / "db.sqlite3")
    try:
        assert store.schema_version == len(MIGRATIONS)
        assert store.undecrypted.all() == [
            PendingDecrypt(EncryptedEvent("$b", "!r", "@bob:x", 2000, source("$b", "!r")), 1700.5),
            PendingDecrypt(EncryptedEvent("$a", "!r", "@alice:x", 1000, source("$a", "!r")), 1701.0),
        ]
        assert meta_keys(store) == {"matrix.since"}  # the blob is gone, the sync token stays
    finally:
        store.close()


def test_a_blob_that_is_not_a_json_object_is_dropped_and_the_store_opens(tmp_path: Path) -> None:
    for n, blob in enumerate(['{"$a": ', "[1, 2]", '"text"', "{}"]):
        path = tmp_path / f"db{n}.sqlite3"
        store_before_the_table(path, blob)
        store = Store(path)
        try:
            assert store.undecrypted.all() == []
            assert meta_keys(store) == {"matrix.since"}, blob
        finally:
            store.close()


def test_kept_events_are_read_back_in_order_until_forgotten(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    pending = store.undecrypted
    first = PendingDecrypt(EncryptedEvent("$2", "!r", "@bob:x", 20, source("$2", "!r")), 5.0)
    second = PendingDecrypt(EncryptedEvent("$1", "!r", "@alice:x", 10, source("$1", "!r")), 6.0)
    try:
        pending.update([first, second], [])
        assert pending.all() == [first, second]
        again = PendingDecrypt(first.event, 99.0)  # kept twice: the first time it was seen counts
        pending.update([again], ["$1"])
        assert pending.all() == [first]
        pending.update([], ["$2", "$unknown"])
        assert pending.all() == []
    finally:
        store.close()
