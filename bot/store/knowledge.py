"""What the operators know, stored: failure fingerprints of red runs, issue links, verdicts given by hand,
mutes, lapses and the audit trail.

Every change and its audit row are written in one transaction, so a restart never keeps one without
the other; a lapse is recorded once per (what, recipe, old fingerprint, new fingerprint), however often
ingest sees the new red. Fingerprints are computed above the store (:mod:`bot.memory.fingerprint`);
here they are keys.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from bot.model.knowledge import (
    AuditAction,
    AuditEntry,
    Fingerprint,
    HandVerdict,
    IssueLink,
    Knowledge,
    KnowledgeKind,
    Lapse,
    Mute,
    PrintHits,
)
from bot.model.records import Category
from bot.store.database import Database, chunks, marks

_LINK_COLUMNS = "id, recipe, fingerprint, shape, url, note, who, at, run_id"
_VERDICT_COLUMNS = "recipe, fingerprint, shape, category, reason, who, at, run_id"
_MUTE_COLUMNS = "recipe, fingerprint, shape, until, reason, who, at, run_id"
_LAPSE_COLUMNS = "id, kind, recipe, was, now, shape, run_id, at, told_at"
Detail = dict[str, str | float | None]


def _link(r: sqlite3.Row) -> IssueLink:
    return IssueLink(int(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], float(r[7]), r[8])


def _verdict(r: sqlite3.Row) -> HandVerdict:
    return HandVerdict(r[0], r[1], r[2], Category.parse(r[3]), r[4], r[5], float(r[6]), r[7])


def _mute(r: sqlite3.Row) -> Mute:
    return Mute(r[0], r[1], r[2], float(r[3]), r[4], r[5], float(r[6]), r[7])


def _lapse(r: sqlite3.Row) -> Lapse:
    return Lapse(int(r[0]), KnowledgeKind(r[1]), r[2], r[3], r[4], r[5], r[6], float(r[7]), r[8])


class KnowledgeStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    # --- fingerprints of red runs -----------------------------------------------------------------------

    def unprinted_red_runs(self) -> list[tuple[str, str]]:
        """(run_id, recipe) of red runs with no fingerprint yet (new, read again, or from before migration 18)."""
        rows = self._db._tuples(
            "SELECT runs.run_id, runs.recipe FROM runs LEFT JOIN failure_prints AS fp ON fp.run_id = runs.run_id"
            " WHERE runs.status = 'red' AND fp.run_id IS NULL"
        )
        return [(str(r[0]), str(r[1])) for r in rows]

    def save_prints(self, prints: Iterable[tuple[str, str, Fingerprint]]) -> None:
        """Store (run_id, recipe, fingerprint) for red runs, in one transaction."""
        rows = [(run_id, recipe, fp.key, fp.shape) for run_id, recipe, fp in prints]
        if rows:
            with self._db._transaction() as c:
                c.executemany(
                    "INSERT OR REPLACE INTO failure_prints (run_id, recipe, fingerprint, shape) VALUES (?,?,?,?)", rows
                )

    def prints(self, run_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
        """run_id → (fingerprint key, shape) for those of these runs that have one."""
        found: dict[str, tuple[str, str]] = {}
        for chunk in chunks(list(dict.fromkeys(run_ids))):
            rows = self._db._tuples(
                f"SELECT run_id, fingerprint, shape FROM failure_prints WHERE run_id IN ({marks(chunk)})",  # noqa: S608
                chunk,
            )
            found.update((str(r[0]), (str(r[1]), str(r[2]))) for r in rows)
        return found

    def hits(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], PrintHits]:
        """(recipe, fingerprint) → red runs with that fingerprint, first and last seen (by finish time)."""
        found: dict[tuple[str, str], PrintHits] = {}
        for recipe, fingerprint in dict.fromkeys(pairs):
            row = self._db._tuples(
                "SELECT COUNT(*), MIN(runs.finished), MAX(runs.finished) FROM failure_prints AS fp"
                " JOIN runs ON runs.run_id = fp.run_id WHERE fp.recipe = ? AND fp.fingerprint = ?",
                (recipe, fingerprint),
            )[0]
            found[(recipe, fingerprint)] = PrintHits(recipe, fingerprint, int(row[0]), row[1], row[2])
        return found

    def hit_times(self, pairs: Iterable[tuple[str, str]], since: float) -> dict[tuple[str, str], list[float]]:
        """(recipe, fingerprint) → finish times (from ``since`` on) of red runs with that fingerprint."""
        found: dict[tuple[str, str], list[float]] = {}
        for recipe, fingerprint in dict.fromkeys(pairs):
            rows = self._db._tuples(
                "SELECT runs.finished FROM failure_prints AS fp JOIN runs ON runs.run_id = fp.run_id"
                " WHERE fp.recipe = ? AND fp.fingerprint = ? AND runs.finished >= ? ORDER BY runs.finished",
                (recipe, fingerprint, since),
            )
            found[(recipe, fingerprint)] = [float(r[0]) for r in rows]
        return found

    @staticmethod
    def _forget(c: sqlite3.Connection, run_ids: list[str]) -> None:
        """Inside an ingest's transaction: a run read again (or forgotten) gets its fingerprint anew."""
        c.executemany("DELETE FROM failure_prints WHERE run_id = ?", [(r,) for r in run_ids])

    # --- what the operators recorded ------------------------------------------------------------------

    def of(self, recipe: str) -> Knowledge:
        links = self._db._query(f"SELECT {_LINK_COLUMNS} FROM known_links WHERE recipe = ? ORDER BY id", (recipe,))  # noqa: S608
        verdicts = self._db._query(
            f"SELECT {_VERDICT_COLUMNS} FROM hand_verdicts WHERE recipe = ? ORDER BY at",  # noqa: S608
            (recipe,),
        )
        mutes = self._db._query(f"SELECT {_MUTE_COLUMNS} FROM mutes WHERE recipe = ?", (recipe,))  # noqa: S608
        return Knowledge(
            recipe,
            tuple(_link(r) for r in links),
            tuple(_verdict(r) for r in verdicts),
            _mute(mutes[0]) if mutes else None,
        )

    def everything(self) -> dict[str, Knowledge]:
        """recipe → what is recorded about it, for every recipe with anything recorded."""
        links: dict[str, list[IssueLink]] = {}
        for r in self._db._query(f"SELECT {_LINK_COLUMNS} FROM known_links ORDER BY id"):  # noqa: S608
            links.setdefault(r[1], []).append(_link(r))
        verdicts: dict[str, list[HandVerdict]] = {}
        for r in self._db._query(f"SELECT {_VERDICT_COLUMNS} FROM hand_verdicts ORDER BY at"):  # noqa: S608
            verdicts.setdefault(r[0], []).append(_verdict(r))
        mutes = {r[0]: _mute(r) for r in self._db._query(f"SELECT {_MUTE_COLUMNS} FROM mutes")}  # noqa: S608
        recipes = sorted({*links, *verdicts, *mutes})
        return {
            name: Knowledge(name, tuple(links.get(name, ())), tuple(verdicts.get(name, ())), mutes.get(name))
            for name in recipes
        }

    def link(
        self, recipe: str, fp: Fingerprint, url: str, note: str, by: str, run_id: str | None, at: float
    ) -> IssueLink:
        """Tie a failure to an issue; the same URL again for the same failure updates its note."""
        with self._db._transaction() as c:
            c.execute(
                "INSERT INTO known_links (recipe, fingerprint, shape, url, note, who, at, run_id)"
                " VALUES (?,?,?,?,?,?,?,?)"
                " ON CONFLICT(recipe, fingerprint, url) DO UPDATE SET note=excluded.note, who=excluded.who,"
                " at=excluded.at, run_id=excluded.run_id",
                (recipe, fp.key, fp.shape, url, note, by, at, run_id),
            )
            row = c.execute(
                f"SELECT {_LINK_COLUMNS} FROM known_links WHERE recipe = ? AND fingerprint = ? AND url = ?",  # noqa: S608
                (recipe, fp.key, url),
            ).fetchone()
            _audit(c, at, by, AuditAction.LINK, recipe, fp.key, {"url": url, "note": note, "run_id": run_id})
        return _link(row)

    def unlink(self, recipe: str, url: str | None, by: str, at: float) -> list[IssueLink]:
        """Remove the recipe's link to ``url`` (every link of the recipe when None); the removed ones."""
        with self._db._transaction() as c:
            where, params = ("recipe = ?", (recipe,)) if url is None else ("recipe = ? AND url = ?", (recipe, url))
            gone = [_link(r) for r in c.execute(f"SELECT {_LINK_COLUMNS} FROM known_links WHERE {where}", params)]  # noqa: S608
            c.execute(f"DELETE FROM known_links WHERE {where}", params)  # noqa: S608
            for link in gone:
                _audit(c, at, by, AuditAction.UNLINK, recipe, link.fingerprint, {"url": link.url, "note": link.note})
        return gone

    def set_verdict(
        self, recipe: str, fp: Fingerprint, category: Category, reason: str, by: str, run_id: str | None, at: float
    ) -> HandVerdict:
        """Give a failure its verdict by hand; a new one for the same failure replaces it (the trail keeps both)."""
        with self._db._transaction() as c:
            before = c.execute(
                "SELECT category, reason, who FROM hand_verdicts WHERE recipe = ? AND fingerprint = ?", (recipe, fp.key)
            ).fetchone()
            c.execute(
                "INSERT OR REPLACE INTO hand_verdicts (recipe, fingerprint, shape, category, reason, who, at, run_id)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (recipe, fp.key, fp.shape, category.value, reason, by, at, run_id),
            )
            detail: Detail = {"category": category.value, "reason": reason, "run_id": run_id}
            if before is not None:
                detail |= {"before": before[0], "before_reason": before[1], "before_by": before[2]}
            _audit(c, at, by, AuditAction.VERDICT, recipe, fp.key, detail)
        return HandVerdict(recipe, fp.key, fp.shape, category, reason, by, at, run_id)

    def mute(
        self, recipe: str, fp: Fingerprint, until: float, reason: str, by: str, run_id: str | None, at: float
    ) -> Mute:
        """Mute a recipe's failure until ``until``; a recipe has one mute, a new one replaces it."""
        with self._db._transaction() as c:
            c.execute(
                "INSERT OR REPLACE INTO mutes (recipe, fingerprint, shape, until, reason, who, at, run_id)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (recipe, fp.key, fp.shape, until, reason, by, at, run_id),
            )
            _audit(c, at, by, AuditAction.MUTE, recipe, fp.key, {"until": until, "reason": reason, "run_id": run_id})
        return Mute(recipe, fp.key, fp.shape, until, reason, by, at, run_id)

    def unmute(self, recipe: str, by: str, at: float) -> Mute | None:
        """Lift the recipe's mute; the one lifted (None: there was none, and nothing is recorded)."""
        with self._db._transaction() as c:
            row = c.execute(f"SELECT {_MUTE_COLUMNS} FROM mutes WHERE recipe = ?", (recipe,)).fetchone()  # noqa: S608
            if row is None:
                return None
            c.execute("DELETE FROM mutes WHERE recipe = ?", (recipe,))
            gone = _mute(row)
            detail: Detail = {"until": gone.until, "reason": gone.reason}
            _audit(c, at, by, AuditAction.UNMUTE, recipe, gone.fingerprint, detail)
        return gone

    # --- lapses: recorded knowledge a later red no longer matches ---------------------------------------

    def record_lapses(self, found: Iterable[tuple[KnowledgeKind, str, str, str, str, str]], at: float) -> list[Lapse]:
        """(kind, recipe, was, now, shape, run_id) → the lapses not recorded before (each once, with its
        audit row, by ``ccci-bot``)."""
        new: list[Lapse] = []
        with self._db._transaction() as c:
            for kind, recipe, was, now, shape, run_id in found:
                cursor = c.execute(
                    "INSERT OR IGNORE INTO knowledge_lapses (kind, recipe, was, now, shape, run_id, at)"
                    " VALUES (?,?,?,?,?,?,?)",
                    (kind.value, recipe, was, now, shape, run_id, at),
                )
                if cursor.rowcount:
                    lapse_id = int(cursor.lastrowid or 0)
                    new.append(Lapse(lapse_id, kind, recipe, was, now, shape, run_id, at, None))
                    detail: Detail = {"kind": kind.value, "now": now, "shape": shape, "run_id": run_id}
                    _audit(c, at, "ccci-bot", AuditAction.LAPSE, recipe, was, detail)
        return new

    def lapses(self, recipe: str | None = None, untold: bool = False) -> list[Lapse]:
        """Recorded lapses (of one recipe; only those no report told yet), oldest first."""
        clauses = (["recipe = ?"] if recipe is not None else []) + (["told_at IS NULL"] if untold else [])
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        params = (recipe,) if recipe is not None else ()
        sql = f"SELECT {_LAPSE_COLUMNS} FROM knowledge_lapses{where} ORDER BY id"  # noqa: S608
        return [_lapse(r) for r in self._db._query(sql, params)]

    def mark_told(self, lapse_ids: Iterable[int], at: float) -> None:
        """The room was told of these lapses (a report carrying them was posted): never again."""
        ids = list(lapse_ids)
        if ids:
            with self._db._transaction() as c:
                self._mark_told(c, ids, at)

    @staticmethod
    def _mark_told(c: sqlite3.Connection, lapse_ids: Iterable[int], at: float) -> None:
        """Inside a report's transaction (:meth:`bot.store.reports.ReportStore.record`): told with it."""
        c.executemany(
            "UPDATE knowledge_lapses SET told_at = ? WHERE id = ? AND told_at IS NULL", [(at, i) for i in lapse_ids]
        )

    # --- the audit trail ---------------------------------------------------------------------------------

    def audit(self, recipe: str | None = None, limit: int = 200) -> list[AuditEntry]:
        """The newest changes first (of one recipe)."""
        where, params = ("WHERE recipe = ?", (recipe, limit)) if recipe is not None else ("", (limit,))
        rows = self._db._query(
            f"SELECT id, at, who, action, recipe, fingerprint, detail_json FROM knowledge_audit {where}"  # noqa: S608
            " ORDER BY id DESC LIMIT ?",
            params,
        )
        return [AuditEntry(int(r[0]), float(r[1]), r[2], AuditAction(r[3]), r[4], r[5], _detail(r[6])) for r in rows]


def _audit(
    c: sqlite3.Connection, at: float, by: str, action: AuditAction, recipe: str, fingerprint: str | None, detail: Detail
) -> None:
    c.execute(
        "INSERT INTO knowledge_audit (at, who, action, recipe, fingerprint, detail_json) VALUES (?,?,?,?,?,?)",
        (at, by, action.value, recipe, fingerprint, json.dumps(detail, sort_keys=True)),
    )


def _detail(text: str) -> Detail:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(k): v for k, v in value.items() if v is None or isinstance(v, str | float | int)}
