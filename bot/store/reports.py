"""The reports' side of the store: what was posted, for which runs and slots, and where its messages are.

A report is recorded in the same transaction that queues its messages in the outbox, so a crash
either loses nothing (the report is composed again) or has it safely queued: never posted twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.model.records import Category, Strength, Verdict
from bot.model.reports import verdict_moved
from bot.store.chat import ChatStore, Outgoing
from bot.store.database import Database
from bot.store.knowledge import KnowledgeStore


class ReportKind(StrEnum):
    """What a report record is (stored as the value; ``ccci_reports_posted`` is labelled with it)."""

    SWEEP = "sweep"  # a sweep summary
    RED = "red"  # a scheduled red report's slot
    BASELINE = "baseline"  # a sweep a new bot found already finished: recorded, never summarised
    SUPERSEDED = "superseded"  # a sweep missed while a later one finished: recorded, never summarised


@dataclass(frozen=True)
class Posted:
    """A sweep summary already posted: the one later verdict changes are told against."""

    key: str
    sweep_id: str
    reruns_queued: bool
    body: dict[str, Any]


def sweep_key(sweep_id: str) -> str:
    return f"sweep:{sweep_id}"


def slot_key(slot: float) -> str:
    return f"red:{slot:.0f}"


class ReportStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def known_sweeps(self) -> set[str]:
        rows = self._db._query("SELECT sweep_id FROM reports WHERE sweep_id IS NOT NULL")
        return {str(r[0]) for r in rows}

    def covered_runs(self, run_ids: Iterable[str]) -> set[str]:
        """Which of these runs a recorded summary (or baseline) already covered."""
        ids = list(run_ids)
        found: set[str] = set()
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db._query(f"SELECT run_id FROM report_runs WHERE run_id IN ({marks})", chunk)  # noqa: S608
            found.update(str(r[0]) for r in rows)
        return found

    def record(
        self,
        key: str,
        kind: ReportKind,
        *,
        sweep_id: str | None = None,
        slot: float | None = None,
        late: bool = False,
        run_ids: Iterable[str] = (),
        messages: list[tuple[str, Outgoing]] | None = None,
        verdicts: dict[str, Verdict] | None = None,
        body: dict[str, Any] | None = None,
        told_lapses: Iterable[int] = (),
    ) -> bool:
        """Record a report and queue its messages atomically; False if ``key`` was recorded before.

        ``told_lapses`` are the knowledge lapses its messages tell: marked told in the same transaction,
        so a lapse is told exactly once (a crash before the commit leaves it for the next report)."""
        now = time.time()
        with self._db._transaction() as c:
            if c.execute("SELECT 1 FROM reports WHERE key = ?", (key,)).fetchone():
                return False
            c.execute(
                "INSERT INTO reports (key, kind, sweep_id, slot, late, created_at, body_json) VALUES (?,?,?,?,?,?,?)",
                (key, kind.value, sweep_id, slot, int(late), now, json.dumps(body or {})),
            )
            c.executemany(
                "INSERT OR IGNORE INTO report_runs (run_id, report_key) VALUES (?, ?)", [(r, key) for r in run_ids]
            )
            for role, message in messages or []:
                (txn,) = ChatStore._enqueue(c, [message])
                c.execute(
                    "INSERT INTO report_messages (report_key, room_id, role, txn_id) VALUES (?,?,?,?)",
                    (key, message.room_id, role, txn),
                )
            self._save_verdicts(c, key, verdicts or {})
            if messages:
                KnowledgeStore._mark_told(c, told_lapses, now)
        return True

    @staticmethod
    def _save_verdicts(c: Any, key: str, verdicts: dict[str, Verdict]) -> None:
        c.executemany(
            "INSERT OR REPLACE INTO report_verdicts (report_key, recipe, category, confidence, strength)"
            " VALUES (?,?,?,?,?)",
            [
                (key, recipe, v.category.value, v.confidence, v.strength.value if v.strength else None)
                for recipe, v in verdicts.items()
            ],
        )

    def latest_sweep_report(self) -> Posted | None:
        rows = self._db._query(
            "SELECT key, sweep_id, reruns_queued, body_json FROM reports WHERE kind = ? ORDER BY sweep_id DESC LIMIT 1",
            (ReportKind.SWEEP.value,),
        )
        if not rows:
            return None
        r = rows[0]
        return Posted(str(r[0]), str(r[1]), bool(r[2]), json.loads(r[3]))

    def set_reruns_queued(self, key: str, recipes: list[str]) -> None:
        with self._db._transaction() as c:
            body = json.loads(c.execute("SELECT body_json FROM reports WHERE key = ?", (key,)).fetchone()[0])
            body["auto_reruns"] = recipes
            c.execute("UPDATE reports SET reruns_queued = 1, body_json = ? WHERE key = ?", (json.dumps(body), key))

    def messages(self, key: str) -> dict[tuple[str, str], str]:
        """(room id, role) → transaction id of a report's messages."""
        rows = self._db._query("SELECT room_id, role, txn_id FROM report_messages WHERE report_key = ?", (key,))
        return {(str(r[0]), str(r[1])): str(r[2]) for r in rows}

    def announced(self, key: str) -> dict[str, Verdict]:
        """The verdicts a summary told (when posted, or in its last update): category, confidence, strength."""
        rows = self._db._query(
            "SELECT recipe, category, confidence, strength FROM report_verdicts WHERE report_key = ?", (key,)
        )
        return {str(r[0]): Verdict(Category.parse(r[1]), float(r[2]), "", strength=Strength.parse(r[3])) for r in rows}

    def announce(self, key: str, verdicts: dict[str, Verdict], messages: list[Outgoing]) -> bool:
        """Record new verdicts and queue their announcement atomically; False if already announced.

        A verdict is news when its category or what it rests on (its strength) changed."""
        with self._db._transaction() as c:
            known = {
                str(r[0]): Verdict(Category.parse(r[1]), 0.0, "", strength=Strength.parse(r[2]))
                for r in c.execute(
                    "SELECT recipe, category, strength FROM report_verdicts WHERE report_key = ?", (key,)
                )
            }
            if not any(verdict_moved(known.get(recipe), v) for recipe, v in verdicts.items()):
                return False
            self._save_verdicts(c, key, verdicts)
            ChatStore._enqueue(c, messages)
        return True

    def last_red_report(self) -> tuple[float, dict[str, Any]] | None:
        """(slot, body) of the newest red report that queued messages: the one "no change since" compares with."""
        rows = self._db._query(
            "SELECT slot, body_json FROM reports r WHERE kind = ? AND slot IS NOT NULL"
            " AND EXISTS (SELECT 1 FROM report_messages m WHERE m.report_key = r.key) ORDER BY slot DESC LIMIT 1",
            (ReportKind.RED.value,),
        )
        return (float(rows[0][0]), json.loads(rows[0][1])) if rows else None

    def last_slot(self) -> float | None:
        rows = self._db._query("SELECT MAX(slot) FROM reports WHERE kind = ?", (ReportKind.RED.value,))
        return float(rows[0][0]) if rows and rows[0][0] is not None else None

    def counts(self) -> dict[ReportKind, int]:
        rows = self._db._query("SELECT kind, COUNT(*) FROM reports GROUP BY kind")
        return {ReportKind(r[0]): int(r[1]) for r in rows}

    def posted_counts(self) -> dict[ReportKind, int]:
        """Sweep summaries and red reports that queued at least one message, by kind.

        That leaves out the baseline and superseded records of a new bot, and red-report slots skipped
        (missed too long) or not owed yet. Queued, not delivered: the outbox delivers each exactly once."""
        rows = self._db._query(
            "SELECT kind, COUNT(*) FROM reports r WHERE kind IN (?, ?)"
            " AND EXISTS (SELECT 1 FROM report_messages m WHERE m.report_key = r.key) GROUP BY kind",
            (ReportKind.SWEEP.value, ReportKind.RED.value),
        )
        found = {ReportKind(r[0]): int(r[1]) for r in rows}
        return {kind: found.get(kind, 0) for kind in (ReportKind.SWEEP, ReportKind.RED)}
