"""The verdicts table: each red run's verdict as decided, with the evidence it cited."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable

from bot.model.records import Category, EvidenceItem, EvidenceKind, NextStep, StoredVerdict, Strength, Verdict
from bot.store.database import Database, chunks, marks


class VerdictStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def save(self, run_id: str, recipe: str, verdict: Verdict, kb_version: str, evidence: list[EvidenceItem]) -> None:
        items = [
            {
                "kind": e.kind.value,
                "run_id": e.run_id,
                "path": e.path,
                "line": e.line,
                "excerpt": e.excerpt,
                "url": e.url,
            }
            for e in evidence
        ]
        with self._db._transaction() as c:
            c.execute(
                "INSERT OR REPLACE INTO verdicts (run_id, recipe, category, confidence, reason, kb_version,"
                " evidence_json, decided_at, settle, rule, strength) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    run_id,
                    recipe,
                    verdict.category.value,
                    verdict.confidence,
                    verdict.reason,
                    kb_version,
                    json.dumps(items),
                    time.time(),
                    verdict.settle.value if verdict.settle is not None else None,
                    verdict.rule,
                    verdict.strength.value if verdict.strength is not None else None,
                ),
            )

    def get(self, run_id: str) -> StoredVerdict | None:
        """The stored verdict of a run (with the knowledge-base version that decided it) and its evidence."""
        rows = self._db._query(
            "SELECT category, confidence, reason, kb_version, evidence_json, settle, rule, strength"
            " FROM verdicts WHERE run_id = ?",
            (run_id,),
        )
        if not rows:
            return None
        r = rows[0]
        evidence = tuple(EvidenceItem(**{**item, "kind": EvidenceKind(item["kind"])}) for item in json.loads(r[4]))
        settle = NextStep(r[5]) if r[5] in {s.value for s in NextStep} else None
        return StoredVerdict(
            Verdict(Category.parse(r[0]), r[1], r[2], r[3], settle, r[6], Strength.parse(r[7])), evidence
        )

    def categories(self, run_ids: Iterable[str]) -> dict[str, Category]:
        """run_id → category of the stored verdict, for those of these runs that have one."""
        found: dict[str, Category] = {}
        for chunk in chunks(list(dict.fromkeys(run_ids))):
            rows = self._db._query(f"SELECT run_id, category FROM verdicts WHERE run_id IN ({marks(chunk)})", chunk)  # noqa: S608
            found.update((str(r[0]), Category.parse(r[1])) for r in rows)
        return found

    @staticmethod
    def _forget(c: sqlite3.Connection, run_ids: list[str]) -> None:
        """Inside an ingest's transaction: drop the verdicts of runs it forgets."""
        c.executemany("DELETE FROM verdicts WHERE run_id = ?", [(r,) for r in run_ids])
