"""The meta table: small named values the bot keeps between runs (the sync token, the last ingest,
the runs dir's last listing, the report loop's marks)."""

from __future__ import annotations

from bot.store.database import Database


class MetaStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, key: str) -> str | None:
        rows = self._db._query("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def set(self, key: str, value: str) -> None:
        with self._db._transaction() as c:
            c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
