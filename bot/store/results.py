"""What was read from each run's files: its tiers, test cases, failures and evidence (the tiers,
testcases, failures and evidence tables). An ingest writes them with the run, in its transaction."""

from __future__ import annotations

import sqlite3

from bot.model.records import EvidenceItem, EvidenceKind, Failure, ParsedRun, TestCase, TestStatus, TierResult
from bot.store.database import Database
from bot.store.runs import RunStore

_TABLES = ("tiers", "testcases", "failures", "evidence")


class ResultStore:
    def __init__(self, db: Database, runs: RunStore) -> None:
        self._db = db
        self._runs = runs

    def failures(self, run_id: str) -> list[Failure]:
        rows = self._db._query(
            "SELECT tier, source, test, message, text, junit_file, status FROM failures WHERE run_id = ? ORDER BY id",
            (run_id,),
        )
        return [Failure(r[0], r[1], r[2], r[3], r[4], r[5], TestStatus(r[6])) for r in rows]

    def testcases(self, run_id: str) -> list[TestCase]:
        rows = self._db._query(
            "SELECT tier, source, name, classname, status, ms, junit_file FROM testcases WHERE run_id = ?"
            " ORDER BY rowid",
            (run_id,),
        )
        return [TestCase(r[0], r[1], r[2], r[3], TestStatus(r[4]), r[5], r[6]) for r in rows]

    def tiers(self, run_id: str) -> list[TierResult]:
        rows = self._db._query("SELECT name, status FROM tiers WHERE run_id = ? ORDER BY position", (run_id,))
        return [TierResult(r[0], TestStatus(r[1])) for r in rows]

    def evidence(self, run_id: str) -> list[EvidenceItem]:
        rows = self._db._query("SELECT kind, path, line, excerpt FROM evidence WHERE run_id = ? ORDER BY id", (run_id,))
        return [EvidenceItem(kind=EvidenceKind(r[0]), run_id=run_id, path=r[1], line=r[2], excerpt=r[3]) for r in rows]

    def peers_passing(self, tier: str, test: str, recipe: str) -> list[tuple[str, str]]:
        """Other recipes whose latest run of this tier/test passed it: (recipe, run_id).

        Per recipe, its runs are walked newest first by index until one that ran the test (CROSS JOIN
        keeps that order: runs outer, a probe of the testcases index inner), so the cost follows the
        number of recipes, not of runs."""
        found: list[tuple[str, str]] = []
        for peer in self._runs.recipes():
            if peer == recipe:
                continue
            rows = self._db._query(
                "SELECT r.run_id, t.status FROM runs r CROSS JOIN testcases t ON t.run_id = r.run_id"
                " AND t.tier = ? AND t.name = ? WHERE r.recipe = ? AND r.pr IS NULL"
                " ORDER BY r.finished DESC LIMIT 1",
                (tier, test, peer),
            )
            if rows and rows[0][1] == TestStatus.PASS.value:
                found.append((peer, str(rows[0][0])))
        return found

    def counts(self) -> dict[str, int]:
        """Rows per table (what an ingest wrote: a re-ingest of the same runs leaves them as they are)."""
        return {
            table: int(self._db._query(f"SELECT COUNT(*) FROM {table}")[0][0])  # noqa: S608 - fixed names
            for table in _TABLES
        }

    # --- inside an ingest's transaction (bot.store.ingest) -------------------------------------------

    @staticmethod
    def _forget(c: sqlite3.Connection, run_ids: list[str]) -> None:
        ids = [(r,) for r in run_ids]
        for table in _TABLES:
            c.executemany(f"DELETE FROM {table} WHERE run_id = ?", ids)  # noqa: S608 - fixed names

    @staticmethod
    def _save(c: sqlite3.Connection, runs: list[ParsedRun]) -> None:
        """Write what was read from these runs (their earlier rows are gone: :meth:`_forget`)."""
        c.executemany(
            "INSERT INTO tiers (run_id, position, name, status) VALUES (?,?,?,?)",
            [(r.run_id, i, t.name, t.status.value) for r in runs for i, t in enumerate(r.tiers)],
        )
        c.executemany(
            "INSERT INTO testcases (run_id, tier, source, name, classname, status, ms, junit_file)"
            " VALUES (?,?,?,?,?,?,?,?)",
            [
                (r.run_id, t.tier, t.source, t.name, t.classname, t.status.value, t.ms, t.junit_file)
                for r in runs
                for t in r.tests
            ],
        )
        c.executemany(
            "INSERT INTO failures (run_id, tier, source, test, message, text, junit_file, status)"
            " VALUES (?,?,?,?,?,?,?,?)",
            [
                (r.run_id, f.tier, f.source, f.test, f.message, f.text, f.junit_file, f.status.value)
                for r in runs
                for f in r.failures
            ],
        )
        c.executemany(
            "INSERT INTO evidence (run_id, kind, path, line, excerpt) VALUES (?,?,?,?,?)",
            [(r.run_id, e.kind.value, e.path, e.line, e.excerpt) for r in runs for e in (*r.problems, *r.log_hits)],
        )
