"""The canonicals table: each recipe's canonical (last known good) version, as the warm dir records it."""

from __future__ import annotations

from bot.model.records import Canonical
from bot.store.database import Database


class CanonicalStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, recipe: str) -> Canonical | None:
        rows = self._db._query(
            "SELECT recipe, version, commit_id, status, ts FROM canonicals WHERE recipe = ?", (recipe,)
        )
        return Canonical(rows[0][0], rows[0][1], rows[0][2], rows[0][3], rows[0][4]) if rows else None

    def save(self, canonicals: list[Canonical]) -> set[str]:
        """The warm dir is the truth: replace the stored set with what is there now.

        Returns the recipes whose record changed (a new canonical can change a verdict)."""
        before = {
            r[0]: tuple(r) for r in self._db._query("SELECT recipe, version, commit_id, status, ts FROM canonicals")
        }
        after = {k.recipe: (k.recipe, k.version, k.commit, k.status, k.ts) for k in canonicals}
        changed = {r for r in before.keys() | after.keys() if before.get(r) != after.get(r)}
        if not changed:
            return changed
        with self._db._transaction() as c:
            c.execute("DELETE FROM canonicals")
            c.executemany(
                "INSERT OR REPLACE INTO canonicals (recipe, version, commit_id, status, ts) VALUES (?,?,?,?,?)",
                [(k.recipe, k.version, k.commit, k.status, k.ts) for k in canonicals],
            )
        return changed

    def count(self) -> int:
        return int(self._db._query("SELECT COUNT(*) FROM canonicals")[0][0])
