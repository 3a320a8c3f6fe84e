"""The ingest's side of the store: what a scan compares run dirs with (fingerprints, seals, the runs
dir's last listing, refused dirs) and what it records (runs with what was read from them, retired
runs, run kinds and sweep ids). The runs, run_notes and bot_runs tables are written here only."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from bot.model.records import ParsedRun, RunKind, ScanScope
from bot.store.database import Database, chunks, marks
from bot.store.knowledge import KnowledgeStore
from bot.store.meta import MetaStore
from bot.store.results import ResultStore
from bot.store.sweeps import SweepStore
from bot.store.verdicts import VerdictStore

_RUNS_DIR_MARK = "runs_dir_mark"  # meta key of the DirMark
UNKNOWN_RECIPE = "unknown"  # what artifacts.rundir calls a run whose recipe it could not tell


class ScanMarks(NamedTuple):
    """What a scan compares run dirs with (see :meth:`IngestStore.scan_marks`)."""

    seals: dict[str, str]  # sealed runs to check: run_id → seal
    prints: dict[str, str]  # unsealed runs and refused dirs: run_id → fingerprint


@dataclass(frozen=True)
class DirMark:
    """The runs dir as a scan listed it: its identity and mtime then, and the dirs it listed that are
    not stored (still being written, unreadable). While the dir's stat is the same, no entry was added,
    removed or renamed, so those and the stored runs are still every run dir in it."""

    dev: int
    ino: int
    mtime_ns: int
    pending: tuple[str, ...]


class IngestStore:
    def __init__(self, db: Database, meta: MetaStore, sweeps: SweepStore) -> None:
        self._db = db
        self._meta = meta
        self._sweeps = sweeps

    # --- what a scan compares run dirs with ----------------------------------------------------------

    def fingerprints(self) -> dict[str, str]:
        """run_id → fingerprint of what was last read: stored runs and refused dirs alike."""
        rows = self._db._query(
            "SELECT run_id, fingerprint FROM runs UNION ALL SELECT run_id, fingerprint FROM run_notes"
        )
        return {r["run_id"]: r["fingerprint"] for r in rows}

    def scan_marks(self, scope: ScanScope | None = None) -> ScanMarks:
        """What a scan compares each run dir with: the seals of the sealed runs it checks (with a
        ``scope``, only those the scope names), the fingerprints of every unsealed run and refused dir.

        Retired runs are left out (a dir that comes back is read as new). All of it comes from indexes
        (runs_sealed, runs_unsealed), not from the rows; sealed runs' long fingerprints are not loaded:
        :meth:`fingerprint` fetches one when its seal broke."""
        prints = dict(
            self._db._tuples(
                "SELECT run_id, fingerprint FROM runs WHERE seal IS NULL AND retired_at IS NULL"
                " UNION ALL SELECT run_id, fingerprint FROM run_notes"
            )
        )
        sealed = "SELECT run_id, seal FROM runs WHERE seal IS NOT NULL AND retired_at IS NULL"
        if scope is None:
            return ScanMarks(dict(self._db._tuples(sealed)), prints)
        sweeps = set(scope.sweeps)
        latest = self._sweeps.latest_id() if scope.latest_sweep else None
        if latest is not None:
            sweeps.add(latest)
        seals: dict[str, str] = {}
        for column, values in (("recipe", sorted(scope.recipes)), ("sweep_id", sorted(sweeps))):
            for chunk in chunks(values):
                seals.update(self._db._tuples(f"{sealed} AND {column} IN ({marks(chunk)})", chunk))
        return ScanMarks(seals, prints)

    def fingerprint(self, run_id: str) -> str | None:
        rows = self._db._query("SELECT fingerprint FROM runs WHERE run_id = ?", (run_id,))
        return str(rows[0][0]) if rows else None

    def sealed_runs(self) -> frozenset[str]:
        """Every sealed run that is not retired (a scoped scan's listing tells them from new dirs)."""
        return frozenset(
            r for (r,) in self._db._tuples("SELECT run_id FROM runs WHERE seal IS NOT NULL AND retired_at IS NULL")
        )

    def unstored(self, run_ids: Iterable[str]) -> list[str]:
        """Those of these dirs that are neither a stored run (retired ones count as not stored) nor refused."""
        ids = list(dict.fromkeys(run_ids))
        stored: set[str] = set()
        for chunk in chunks(ids):
            stored.update(
                r
                for (r,) in self._db._tuples(
                    f"SELECT run_id FROM runs WHERE retired_at IS NULL AND run_id IN ({marks(chunk)})"  # noqa: S608
                    f" UNION ALL SELECT run_id FROM run_notes WHERE run_id IN ({marks(chunk)})",
                    [*chunk, *chunk],
                )
            )
        return [r for r in ids if r not in stored]

    def run_directories(self) -> dict[str, str]:
        """run_id → the dir a stored run was read from (to find runs whose dir is gone)."""
        rows = self._db._query("SELECT run_id, directory FROM runs WHERE retired_at IS NULL")
        return {r["run_id"]: r["directory"] for r in rows}

    def runs_dir_mark(self) -> DirMark | None:
        """The runs dir as the last listing that could be trusted saw it (see :class:`DirMark`)."""
        value = self._meta.get(_RUNS_DIR_MARK)
        if not value:
            return None
        dev, ino, mtime_ns, pending = json.loads(value)
        return DirMark(int(dev), int(ino), int(mtime_ns), tuple(str(p) for p in pending))

    def set_runs_dir_mark(self, mark: DirMark | None) -> None:
        """Record a listing (None: forget it; the next scan lists the dir)."""
        value = "" if mark is None else json.dumps([mark.dev, mark.ino, mark.mtime_ns, list(mark.pending)])
        self._meta.set(_RUNS_DIR_MARK, value)

    # --- what it records ------------------------------------------------------------------------------

    def save_runs(self, runs: list[ParsedRun], seals: dict[str, str] | None = None) -> None:
        """Replace everything stored about these runs in one transaction (idempotent).

        ``seals``: the seal of each run that was settled when read (others stay unsealed)."""
        if not runs:
            return
        seals = seals or {}
        now = time.time()
        ids = [r.run_id for r in runs]
        with self._db._transaction() as c:
            ResultStore._forget(c, ids)
            KnowledgeStore._forget(c, ids)
            c.executemany("DELETE FROM run_notes WHERE run_id = ?", [(r,) for r in ids])
            c.executemany(
                """INSERT INTO runs (run_id, recipe, version, pr, ref, started, finished, status, unverified,
                       derived, fingerprint, directory, raw_json, ingested_at, seal)
                   VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
                   ON CONFLICT(run_id) DO UPDATE SET recipe=excluded.recipe, version=excluded.version,
                       pr=excluded.pr, ref=excluded.ref, started=excluded.started, finished=excluded.finished,
                       status=excluded.status, unverified=excluded.unverified, derived=excluded.derived,
                       fingerprint=excluded.fingerprint, directory=excluded.directory,
                       raw_json=excluded.raw_json, ingested_at=excluded.ingested_at, retired_at=NULL,
                       seal=excluded.seal""",
                [
                    (
                        r.run_id,
                        r.recipe,
                        r.version,
                        r.pr,
                        r.ref,
                        r.started,
                        r.finished,
                        r.status.value,
                        int(r.unverified),
                        int(r.derived),
                        r.fingerprint,
                        r.directory,
                        json.dumps(r.raw, sort_keys=True, default=str),
                        now,
                        seals.get(r.run_id),
                    )
                    for r in runs
                ],
            )
            ResultStore._save(c, runs)

    def set_seals(self, seals: dict[str, str]) -> None:
        """Seal runs found settled and unchanged (bot.artifacts.seal)."""
        if seals:
            with self._db._transaction() as c:
                c.executemany("UPDATE runs SET seal = ? WHERE run_id = ?", [(v, k) for k, v in seals.items()])

    def note_refused(self, run_id: str, fingerprint: str, note: str) -> None:
        """A run dir the bot refuses: remember why (and its fingerprint); drop any earlier reading of it."""
        with self._db._transaction() as c:
            self._forget(c, [run_id])
            c.execute(
                "INSERT OR REPLACE INTO run_notes (run_id, fingerprint, note, noted_at) VALUES (?,?,?,?)",
                (run_id, fingerprint, note, time.time()),
            )

    def run_notes(self) -> dict[str, str]:
        return {r["run_id"]: r["note"] for r in self._db._query("SELECT run_id, note FROM run_notes")}

    def forget_notes(self, run_ids: Iterable[str]) -> None:
        with self._db._transaction() as c:
            c.executemany("DELETE FROM run_notes WHERE run_id = ?", [(r,) for r in run_ids])

    def retire_runs(self, run_ids: list[str], now: float) -> list[str]:
        """Runs whose dir is gone: the row stays as history, marked retired (its files are not offered).

        A row that never knew its recipe (``unknown``, derived from what little was there) carries
        nothing once its dir is gone, so it is removed instead. Returns the recipes affected."""
        if not run_ids:
            return []
        recipes: set[str] = set()
        with self._db._transaction() as c:
            for chunk in chunks(run_ids):
                rows = c.execute(f"SELECT run_id, recipe FROM runs WHERE run_id IN ({marks(chunk)})", chunk)  # noqa: S608
                for run_id, recipe in rows.fetchall():
                    recipes.add(recipe)
                    if recipe == UNKNOWN_RECIPE:
                        self._forget(c, [run_id])
            c.executemany("UPDATE runs SET retired_at = ? WHERE run_id = ?", [(now, r) for r in run_ids])
            c.executemany("DELETE FROM run_notes WHERE run_id = ?", [(r,) for r in run_ids])
        return sorted(recipes)

    @staticmethod
    def _forget(c: sqlite3.Connection, run_ids: list[str]) -> None:
        ResultStore._forget(c, run_ids)
        VerdictStore._forget(c, run_ids)
        KnowledgeStore._forget(c, run_ids)
        c.executemany("DELETE FROM runs WHERE run_id = ?", [(r,) for r in run_ids])

    # --- run kinds and sweeps (bot.ingest.sweeps decides them from the runs' times) --------------------

    def run_intervals(self) -> list[tuple[str, float | None, float | None, str | None, bool]]:
        """(run_id, started, finished, pr, started_by_bot) for every run: the input of run kinds."""
        rows = self._db._query(
            "SELECT r.run_id, r.started, r.finished, r.pr, b.run_id IS NOT NULL AS by_bot"
            " FROM runs r LEFT JOIN bot_runs b ON b.run_id = r.run_id"
        )
        return [(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows]

    def set_kinds(self, kinds: dict[str, tuple[RunKind, str | None]]) -> int:
        """Store run kinds and sweep ids; return how many changed."""
        current = {
            r["run_id"]: (r["kind"], r["sweep_id"]) for r in self._db._query("SELECT run_id, kind, sweep_id FROM runs")
        }
        changed = [
            (kind.value, sweep, run_id)
            for run_id, (kind, sweep) in kinds.items()
            if current.get(run_id) != (kind.value, sweep)
        ]
        if changed:
            with self._db._transaction() as c:
                c.executemany("UPDATE runs SET kind = ?, sweep_id = ? WHERE run_id = ?", changed)
        return len(changed)

    def mark_bot_run(self, run_id: str) -> None:
        """Remember that the bot started this run, so it counts as an isolation run."""
        with self._db._transaction() as c:
            c.execute("INSERT OR IGNORE INTO bot_runs (run_id, requested_at) VALUES (?, ?)", (run_id, time.time()))
