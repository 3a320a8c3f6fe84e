"""Reads and writes of the history database. Synchronous by design: callers in the bot run these
through ``asyncio.to_thread`` (see :mod:`bot.service`), so SQLite never blocks the event loop."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from bot.model.records import (
    Canonical,
    Category,
    EvidenceItem,
    EvidenceKind,
    Failure,
    NextStep,
    ParsedRun,
    RunKind,
    RunRow,
    RunStatus,
    ScanScope,
    Strength,
    TestCase,
    TestStatus,
    TierResult,
    Verdict,
)
from bot.store.backup import migration_backup
from bot.store.check import verify
from bot.store.errors import StoreError, explain
from bot.store.schema import migrate

log = logging.getLogger(__name__)


# What a write to a store that cannot be written raises (a full disk: "database or disk is full"), for the
# callers that must survive one without speaking SQLite themselves.
STORE_WRITE_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, OSError)


class SweepRunTimes(NamedTuple):
    """When one sweep run last did something (by cc-ci's clock) and was last read (by the bot's)."""

    sweep_id: str
    run_id: str
    last_activity: float  # its latest start or finish; 0 when it has neither
    ingested_at: float


class ScanMarks(NamedTuple):
    """What a scan compares run dirs with (see :meth:`Store.scan_marks`)."""

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


class SweepResult(NamedTuple):
    """One recipe's result in one sweep run."""

    recipe: str
    sweep_id: str
    status: RunStatus
    unverified: bool
    finished: float | None


_RUNS_DIR_MARK = "runs_dir_mark"  # meta key of the DirMark
UNKNOWN_RECIPE = "unknown"  # what artifacts.rundir calls a run whose recipe it could not tell

_RUN_COLUMNS = "run_id, recipe, version, pr, started, finished, status, unverified, kind, sweep_id, derived, retired_at"


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# The reverse of :meth:`Store.runs_of`'s order (an unfinished run counts as the newest); the
# indexes of migration 10 hold it, so "the last n" is an index walk with a LIMIT.
_NEWEST_FIRST = "ORDER BY finished IS NULL DESC, finished DESC, run_id DESC"


def _run_order(run: RunRow) -> tuple[bool, float, str]:
    """:meth:`Store.runs_of`'s order as a sort key."""
    return (run.finished is None, run.finished or 0.0, run.run_id)


def _run_row(row: sqlite3.Row) -> RunRow:
    return RunRow(
        run_id=row["run_id"],
        recipe=row["recipe"],
        version=row["version"],
        pr=row["pr"],
        started=row["started"],
        finished=row["finished"],
        status=RunStatus(row["status"]),
        unverified=bool(row["unverified"]),
        kind=RunKind(row["kind"]),
        sweep_id=row["sweep_id"],
        derived=bool(row["derived"]),
        retired_at=row["retired_at"],
    )


def _wal(conn: sqlite3.Connection, patience_s: float = 30.0) -> None:
    """Switch to WAL. Another process opening the same new file at the same moment can make the switch
    report "locked" without waiting on the busy timeout, so it is retried for a while."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)  # back off before asking SQLite again; not synchronisation with anything


class Store:
    """One SQLite database file; a lock serialises the threads that share its connection."""

    def __init__(self, path: Path) -> None:
        """Open (or create) the store; :class:`StoreError` when the file is not one this bot may use."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        except sqlite3.Error as exc:
            raise StoreError(f"the store {path} cannot be opened: {explain(exc)}") from exc
        try:
            self.schema_version = self._open()
        except BaseException as exc:
            self._conn.close()
            if isinstance(exc, StoreError | sqlite3.Error):
                reason = explain(exc) if isinstance(exc, sqlite3.Error) else str(exc)
                raise StoreError(f"the store {path} cannot be used: {reason}") from exc
            raise

    def _open(self) -> int:
        conn = self._conn
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA trusted_schema=OFF")  # schema code may not call functions with side effects
        verify(conn)  # before the first write: a trigger the migrations did not define never runs
        _wal(conn)
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA recursive_triggers=ON")  # a REPLACE's delete updates run_total too
        return migrate(conn, before=self._backup_before_migration)

    def _backup_before_migration(self, version: int) -> None:
        """An upgrade's migrations run on a copy's safety net: a failed one can be restored from it."""
        result = migration_backup(self.path, version)
        log.warning("schema v%d will be migrated; backed up first to %s", version, result.path)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE … COMMIT), rolled back on any error."""
        with self._tx() as conn:
            yield conn

    def query(self, sql: str, params: Iterable[object] = ()) -> list[sqlite3.Row]:
        return self._query(sql, params)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _tuples(self, sql: str, params: Iterable[object] = ()) -> list[tuple[Any, ...]]:
        """Rows as plain tuples: for a large result, sqlite3.Row objects cost more than the query."""
        with self._lock:
            cursor = self._conn.cursor()
            cursor.row_factory = None
            return cursor.execute(sql, tuple(params)).fetchall()

    def _query(self, sql: str, params: Iterable[object] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, tuple(params)).fetchall()

    # --- ingest --------------------------------------------------------------------------------

    def fingerprints(self) -> dict[str, str]:
        """run_id → fingerprint of what was last read: stored runs and refused dirs alike."""
        rows = self._query("SELECT run_id, fingerprint FROM runs UNION ALL SELECT run_id, fingerprint FROM run_notes")
        return {r["run_id"]: r["fingerprint"] for r in rows}

    def run_directories(self) -> dict[str, str]:
        """run_id → the dir a stored run was read from (to find runs whose dir is gone)."""
        rows = self._query("SELECT run_id, directory FROM runs WHERE retired_at IS NULL")
        return {r["run_id"]: r["directory"] for r in rows}

    def note_refused(self, run_id: str, fingerprint: str, note: str) -> None:
        """A run dir the bot refuses: remember why (and its fingerprint); drop any earlier reading of it."""
        with self._tx() as c:
            self._forget(c, [run_id])
            c.execute(
                "INSERT OR REPLACE INTO run_notes (run_id, fingerprint, note, noted_at) VALUES (?,?,?,?)",
                (run_id, fingerprint, note, time.time()),
            )

    def run_notes(self) -> dict[str, str]:
        return {r["run_id"]: r["note"] for r in self._query("SELECT run_id, note FROM run_notes")}

    def forget_notes(self, run_ids: Iterable[str]) -> None:
        with self._tx() as c:
            c.executemany("DELETE FROM run_notes WHERE run_id = ?", [(r,) for r in run_ids])

    def retire_runs(self, run_ids: list[str], now: float) -> list[str]:
        """Runs whose dir is gone: the row stays as history, marked retired (its files are not offered).

        A row that never knew its recipe (``unknown``, derived from what little was there) carries
        nothing once its dir is gone, so it is removed instead. Returns the recipes affected."""
        if not run_ids:
            return []
        recipes: set[str] = set()
        with self._tx() as c:
            for chunk in _chunks(run_ids, 500):
                marks = ",".join("?" * len(chunk))
                rows = c.execute(f"SELECT run_id, recipe FROM runs WHERE run_id IN ({marks})", chunk)  # noqa: S608
                for run_id, recipe in rows.fetchall():
                    recipes.add(recipe)
                    if recipe == UNKNOWN_RECIPE:
                        self._forget(c, [run_id])
            c.executemany("UPDATE runs SET retired_at = ? WHERE run_id = ?", [(now, r) for r in run_ids])
            c.executemany("DELETE FROM run_notes WHERE run_id = ?", [(r,) for r in run_ids])
        return sorted(recipes)

    @staticmethod
    def _forget(c: sqlite3.Connection, run_ids: list[str]) -> None:
        ids = [(r,) for r in run_ids]
        for table in ("tiers", "testcases", "failures", "evidence", "verdicts", "runs"):
            c.executemany(f"DELETE FROM {table} WHERE run_id = ?", ids)  # noqa: S608 - fixed names

    def scan_marks(self, scope: ScanScope | None = None) -> ScanMarks:
        """What a scan compares each run dir with: the seals of the sealed runs it checks (with a
        ``scope``, only those the scope names), the fingerprints of every unsealed run and refused dir.

        Retired runs are left out (a dir that comes back is read as new). All of it comes from indexes
        (migration 13), not from the rows; sealed runs' long fingerprints are not loaded:
        :meth:`fingerprint` fetches one when its seal broke."""
        prints = dict(
            self._tuples(
                "SELECT run_id, fingerprint FROM runs WHERE seal IS NULL AND retired_at IS NULL"
                " UNION ALL SELECT run_id, fingerprint FROM run_notes"
            )
        )
        sealed = "SELECT run_id, seal FROM runs WHERE seal IS NOT NULL AND retired_at IS NULL"
        if scope is None:
            return ScanMarks(dict(self._tuples(sealed)), prints)
        sweeps = set(scope.sweeps)
        latest = self.latest_sweep_id() if scope.latest_sweep else None
        if latest is not None:
            sweeps.add(latest)
        seals: dict[str, str] = {}
        for column, values in (("recipe", sorted(scope.recipes)), ("sweep_id", sorted(sweeps))):
            for chunk in _chunks(values, 500):
                seals.update(self._tuples(f"{sealed} AND {column} IN ({','.join('?' * len(chunk))})", chunk))
        return ScanMarks(seals, prints)

    def sealed_runs(self) -> frozenset[str]:
        """Every sealed run that is not retired (a scoped scan's listing tells them from new dirs)."""
        return frozenset(
            r for (r,) in self._tuples("SELECT run_id FROM runs WHERE seal IS NOT NULL AND retired_at IS NULL")
        )

    def unstored(self, run_ids: Iterable[str]) -> list[str]:
        """Those of these dirs that are neither a stored run (retired ones count as not stored) nor refused."""
        ids = list(dict.fromkeys(run_ids))
        stored: set[str] = set()
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            stored.update(
                r
                for (r,) in self._tuples(
                    f"SELECT run_id FROM runs WHERE retired_at IS NULL AND run_id IN ({marks})"  # noqa: S608
                    f" UNION ALL SELECT run_id FROM run_notes WHERE run_id IN ({marks})",
                    [*chunk, *chunk],
                )
            )
        return [r for r in ids if r not in stored]

    def runs_dir_mark(self) -> DirMark | None:
        """The runs dir as the last listing that could be trusted saw it (see :class:`DirMark`)."""
        value = self.get_meta(_RUNS_DIR_MARK)
        if not value:
            return None
        dev, ino, mtime_ns, pending = json.loads(value)
        return DirMark(int(dev), int(ino), int(mtime_ns), tuple(str(p) for p in pending))

    def set_runs_dir_mark(self, mark: DirMark | None) -> None:
        """Record a listing (None: forget it; the next scan lists the dir)."""
        value = "" if mark is None else json.dumps([mark.dev, mark.ino, mark.mtime_ns, list(mark.pending)])
        self.set_meta(_RUNS_DIR_MARK, value)

    def fingerprint(self, run_id: str) -> str | None:
        rows = self._query("SELECT fingerprint FROM runs WHERE run_id = ?", (run_id,))
        return str(rows[0][0]) if rows else None

    def set_seals(self, seals: dict[str, str]) -> None:
        """Seal runs found settled and unchanged (bot.artifacts.seal)."""
        if seals:
            with self._tx() as c:
                c.executemany("UPDATE runs SET seal = ? WHERE run_id = ?", [(v, k) for k, v in seals.items()])

    def save_runs(self, runs: list[ParsedRun], seals: dict[str, str] | None = None) -> None:
        """Replace everything stored about these runs in one transaction (idempotent).

        ``seals``: the seal of each run that was settled when read (others stay unsealed)."""
        if not runs:
            return
        seals = seals or {}
        now = time.time()
        ids = [(r.run_id,) for r in runs]
        with self._tx() as c:
            for table in ("tiers", "testcases", "failures", "evidence", "run_notes"):
                c.executemany(f"DELETE FROM {table} WHERE run_id = ?", ids)  # noqa: S608 - fixed names
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

    def save_canonicals(self, canonicals: list[Canonical]) -> set[str]:
        """The warm dir is the truth: replace the stored set with what is there now.

        Returns the recipes whose record changed (a new canonical can change a verdict)."""
        before = {r[0]: tuple(r) for r in self._query("SELECT recipe, version, commit_id, status, ts FROM canonicals")}
        after = {k.recipe: (k.recipe, k.version, k.commit, k.status, k.ts) for k in canonicals}
        changed = {r for r in before.keys() | after.keys() if before.get(r) != after.get(r)}
        if not changed:
            return changed
        with self._tx() as c:
            c.execute("DELETE FROM canonicals")
            c.executemany(
                "INSERT OR REPLACE INTO canonicals (recipe, version, commit_id, status, ts) VALUES (?,?,?,?,?)",
                [(k.recipe, k.version, k.commit, k.status, k.ts) for k in canonicals],
            )
        return changed

    def run_intervals(self) -> list[tuple[str, float | None, float | None, str | None, bool]]:
        """(run_id, started, finished, pr, started_by_bot) for every run: the input of run kinds."""
        rows = self._query(
            "SELECT r.run_id, r.started, r.finished, r.pr, b.run_id IS NOT NULL AS by_bot"
            " FROM runs r LEFT JOIN bot_runs b ON b.run_id = r.run_id"
        )
        return [(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows]

    def set_kinds(self, kinds: dict[str, tuple[RunKind, str | None]]) -> int:
        """Store run kinds and sweep ids; return how many changed."""
        current = {
            r["run_id"]: (r["kind"], r["sweep_id"]) for r in self._query("SELECT run_id, kind, sweep_id FROM runs")
        }
        changed = [
            (kind.value, sweep, run_id)
            for run_id, (kind, sweep) in kinds.items()
            if current.get(run_id) != (kind.value, sweep)
        ]
        if changed:
            with self._tx() as c:
                c.executemany("UPDATE runs SET kind = ?, sweep_id = ? WHERE run_id = ?", changed)
        return len(changed)

    def mark_bot_run(self, run_id: str) -> None:
        """Remember that the bot started this run, so it counts as an isolation run."""
        with self._tx() as c:
            c.execute("INSERT OR IGNORE INTO bot_runs (run_id, requested_at) VALUES (?, ?)", (run_id, time.time()))

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as c:
            c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def get_meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    # --- queries -------------------------------------------------------------------------------

    def recipes(self) -> list[str]:
        """Every recipe, sorted: a skip-scan of the recipe index, one probe per recipe, not per run."""
        rows = self._query(
            "WITH RECURSIVE r(recipe) AS (SELECT MIN(recipe) FROM runs"
            " UNION ALL SELECT (SELECT MIN(recipe) FROM runs WHERE recipe > r.recipe) FROM r"
            " WHERE r.recipe IS NOT NULL)"
            " SELECT recipe FROM r WHERE recipe IS NOT NULL"
        )
        return [r[0] for r in rows]

    def runs_of(self, recipe: str) -> list[RunRow]:
        """A recipe's runs, oldest first, ordered by when they finished (never by id)."""
        rows = self._query(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE recipe = ? ORDER BY finished IS NULL, finished, run_id",  # noqa: S608
            (recipe,),
        )
        return [_run_row(r) for r in rows]

    def last_runs(self, recipe: str, n: int) -> list[RunRow]:
        """A recipe's last ``n`` runs in :meth:`runs_of` order, by index (history without reading it all)."""
        rows = self._query(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE recipe = ? {_NEWEST_FIRST} LIMIT ?",  # noqa: S608 - fixed text
            (recipe, n),
        )
        return [_run_row(r) for r in reversed(rows)]

    def last_runs_by_kind(self, recipe: str) -> list[RunRow]:
        """One recipe's last run of each kind, in :meth:`runs_of` order: one indexed probe per kind.

        The per-recipe twin of :meth:`last_run_of_each_kind`; what :func:`bot.store.status_run.target_run`
        needs to pick the recipe's status run without its history. Empty for a recipe never seen."""
        found: list[RunRow] = []
        for kind in RunKind:
            rows = self._query(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE recipe = ? AND kind = ? {_NEWEST_FIRST} LIMIT 1",  # noqa: S608
                (recipe, kind.value),
            )
            found += [_run_row(r) for r in rows]
        return sorted(found, key=_run_order)

    def reruns_of(self, target: RunRow, limit: int) -> list[RunRow]:
        """Other finished runs of the target's version: every isolation run, and sweep runs after it.

        The newest ``limit`` of them, in :meth:`runs_of` order (what :func:`bot.store.status_run.reruns_of` means)."""
        same = "recipe = ? AND kind = ? AND version IS ? AND run_id != ? AND status != ?"
        args = (target.recipe, target.version, target.run_id, RunStatus.UNKNOWN.value)
        isolation = self._query(  # the newest of the version's isolation runs, walked back by index
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE {same} {_NEWEST_FIRST} LIMIT ?",  # noqa: S608
            (args[0], RunKind.ISOLATION.value, *args[1:], limit),
        )
        sweeps = self._query(  # sweep runs finished after it: a range of the index, never the history before it
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE {same} AND (finished IS NULL) = 0 AND finished > ?"  # noqa: S608
            f" {_NEWEST_FIRST} LIMIT ?",
            (args[0], RunKind.SWEEP.value, *args[1:], target.finished or 0.0, limit),
        )
        return sorted((_run_row(r) for r in (*isolation, *sweeps)), key=_run_order)[-limit:]

    def runs_up_to(self, target: RunRow, limit: int) -> list[RunRow]:
        """The newest ``limit`` runs of the target's recipe and kind that finished no later than it, newest first.

        A red streak is walked back from the target through these until a run that is not red."""
        rows = self._query(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE recipe = ? AND kind = ? AND COALESCE(finished, 0) <= ?"  # noqa: S608
            f" {_NEWEST_FIRST} LIMIT ?",
            (target.recipe, target.kind.value, target.finished or 0, limit),
        )
        return [_run_row(r) for r in rows]

    def long_red_streak(self, target: RunRow) -> tuple[RunRow | None, int]:
        """The first run and length of the red streak ending at the target, for a streak too long to page.

        The newest run of the target's kind, up to it, that is not red bounds the streak (an index walk
        back over the streak); its first run and its length are then one LIMIT 1 and one COUNT over
        the recipe's runs of that kind, in C, however long it has been red."""
        pool = "recipe = ? AND kind = ? AND COALESCE(finished, 0) <= ?"
        args: list[object] = [target.recipe, target.kind.value, target.finished or 0]
        bounds = [  # per status that is not red: one seek in runs_by_recipe_kind_status
            row
            for status in RunStatus
            if status is not RunStatus.RED
            for row in self._query(
                f"SELECT finished IS NULL, COALESCE(finished, 0), run_id FROM runs WHERE {pool} AND status = ?"  # noqa: S608
                f" {_NEWEST_FIRST} LIMIT 1",
                (*args, status.value),
            )
        ]
        if bounds:
            pool += " AND (finished IS NULL, COALESCE(finished, 0), run_id) > (?, ?, ?)"
            args += list(max(tuple(b) for b in bounds))
        first = self._query(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE {pool} ORDER BY finished IS NULL, finished, run_id LIMIT 1",  # noqa: S608
            args,
        )
        count = int(self._query(f"SELECT COUNT(*) FROM runs WHERE {pool}", args)[0][0])  # noqa: S608
        return (_run_row(first[0]) if first else None), count

    def same_version_runs(self, target: RunRow, limit: int) -> list[RunRow]:
        """The last ``limit`` runs of the target's version that are not PR runs, in :meth:`runs_of` order."""
        found: list[RunRow] = []
        for kind in RunKind:
            if kind is not RunKind.PR:
                rows = self._query(
                    f"SELECT {_RUN_COLUMNS} FROM runs WHERE recipe = ? AND kind = ? AND version IS ?"  # noqa: S608
                    f" {_NEWEST_FIRST} LIMIT ?",
                    (target.recipe, kind.value, target.version, limit),
                )
                found += [_run_row(r) for r in rows]
        return sorted(found, key=_run_order)[-limit:]

    def last_run_of_version(self, recipe: str, kind: RunKind, version: str | None) -> RunRow | None:
        """A recipe's last run of this kind and version ("last" as in :meth:`runs_of`)."""
        rows = self._query(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE recipe = ? AND version IS ? AND kind = ?"  # noqa: S608
            f" {_NEWEST_FIRST} LIMIT 1",
            (recipe, version, kind.value),
        )
        return _run_row(rows[0]) if rows else None

    def run(self, run_id: str) -> RunRow | None:
        rows = self._query(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,))  # noqa: S608
        return _run_row(rows[0]) if rows else None

    def run_count(self) -> int:
        """How many runs are stored: one row kept by triggers (migration 11), not a count of the table."""
        return int(self._query("SELECT n FROM run_total")[0][0])

    def last_run_of_each_kind(self) -> list[RunRow]:
        """Each recipe's last run of each kind ("last" as in :meth:`runs_of`), in :meth:`runs_of` order.

        What :func:`bot.store.status_run.target_run` needs to pick every recipe's status run at once: it looks
        only at a recipe's last sweep run and its last run that is not a PR."""
        rows = self._query(
            f"SELECT {_RUN_COLUMNS} FROM (SELECT {_RUN_COLUMNS}, ROW_NUMBER() OVER ("  # noqa: S608 - fixed columns
            " PARTITION BY recipe, kind ORDER BY finished IS NULL DESC, finished DESC, run_id DESC) AS n FROM runs)"
            " WHERE n = 1 ORDER BY recipe, finished IS NULL, finished, run_id"
        )
        return [_run_row(r) for r in rows]

    def sweep_run_times(self) -> list[SweepRunTimes]:
        """Every sweep run's activity and ingest times, by sweep id."""
        rows = self._query(
            "SELECT sweep_id, run_id, COALESCE(MAX(started, finished), finished, started, 0), ingested_at FROM runs"
            " WHERE kind = 'sweep' AND sweep_id IS NOT NULL ORDER BY sweep_id"
        )
        return [SweepRunTimes(str(r[0]), str(r[1]), float(r[2]), float(r[3])) for r in rows]

    def sweep_results(self, upto: str) -> list[SweepResult]:
        """Every recipe's sweep runs up to and including sweep ``upto``, by recipe, sweep, then finish."""
        rows = self._query(
            "SELECT recipe, sweep_id, status, unverified, finished FROM runs"
            " WHERE kind = 'sweep' AND sweep_id IS NOT NULL AND sweep_id <= ?"
            " ORDER BY recipe, sweep_id, finished",
            (upto,),
        )
        return [SweepResult(str(r[0]), str(r[1]), RunStatus(r[2]), bool(r[3]), r[4]) for r in rows]

    def latest_sweep_id(self) -> str | None:
        rows = self._query(
            "SELECT sweep_id FROM runs WHERE kind = 'sweep' AND sweep_id IS NOT NULL ORDER BY finished DESC LIMIT 1"
        )
        return str(rows[0][0]) if rows else None

    def has_sweep(self, sweep_id: str) -> bool:
        return bool(self._query("SELECT 1 FROM runs WHERE sweep_id = ? LIMIT 1", (sweep_id,)))

    def previous_sweep_id(self, sweep_id: str) -> str | None:
        """The sweep before this one in sweep-id order (ids sort by time), or None for the first."""
        rows = self._query("SELECT MAX(sweep_id) FROM runs WHERE sweep_id < ?", (sweep_id,))
        return str(rows[0][0]) if rows and rows[0][0] is not None else None

    def sweep_ids(self) -> list[str]:
        rows = self._query("SELECT DISTINCT sweep_id FROM runs WHERE sweep_id IS NOT NULL ORDER BY sweep_id")
        return [str(r[0]) for r in rows]

    def sweep_runs(self, sweep_id: str) -> list[RunRow]:
        rows = self._query(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE sweep_id = ? ORDER BY recipe, finished",  # noqa: S608
            (sweep_id,),
        )
        return [_run_row(r) for r in rows]

    def failures(self, run_id: str) -> list[Failure]:
        rows = self._query(
            "SELECT tier, source, test, message, text, junit_file, status FROM failures WHERE run_id = ? ORDER BY id",
            (run_id,),
        )
        return [Failure(r[0], r[1], r[2], r[3], r[4], r[5], TestStatus(r[6])) for r in rows]

    def testcases(self, run_id: str) -> list[TestCase]:
        rows = self._query(
            "SELECT tier, source, name, classname, status, ms, junit_file FROM testcases WHERE run_id = ?"
            " ORDER BY rowid",
            (run_id,),
        )
        return [TestCase(r[0], r[1], r[2], r[3], TestStatus(r[4]), r[5], r[6]) for r in rows]

    def tiers(self, run_id: str) -> list[TierResult]:
        rows = self._query("SELECT name, status FROM tiers WHERE run_id = ? ORDER BY position", (run_id,))
        return [TierResult(r[0], TestStatus(r[1])) for r in rows]

    def evidence(self, run_id: str) -> list[EvidenceItem]:
        rows = self._query("SELECT kind, path, line, excerpt FROM evidence WHERE run_id = ? ORDER BY id", (run_id,))
        return [EvidenceItem(kind=EvidenceKind(r[0]), run_id=run_id, path=r[1], line=r[2], excerpt=r[3]) for r in rows]

    def canonical(self, recipe: str) -> Canonical | None:
        rows = self._query("SELECT recipe, version, commit_id, status, ts FROM canonicals WHERE recipe = ?", (recipe,))
        return Canonical(rows[0][0], rows[0][1], rows[0][2], rows[0][3], rows[0][4]) if rows else None

    def run_directory(self, run_id: str) -> str | None:
        rows = self._query("SELECT directory FROM runs WHERE run_id = ?", (run_id,))
        return str(rows[0][0]) if rows else None

    def peers_passing(self, tier: str, test: str, recipe: str) -> list[tuple[str, str]]:
        """Other recipes whose latest run of this tier/test passed it: (recipe, run_id).

        Per recipe, its runs are walked newest first by index until one that ran the test (CROSS JOIN
        keeps that order: runs outer, a probe of the testcases index inner), so the cost follows the
        number of recipes, not of runs."""
        found: list[tuple[str, str]] = []
        for peer in self.recipes():
            if peer == recipe:
                continue
            rows = self._query(
                "SELECT r.run_id, t.status FROM runs r CROSS JOIN testcases t ON t.run_id = r.run_id"
                " AND t.tier = ? AND t.name = ? WHERE r.recipe = ? AND r.pr IS NULL"
                " ORDER BY r.finished DESC LIMIT 1",
                (tier, test, peer),
            )
            if rows and rows[0][1] == TestStatus.PASS.value:
                found.append((peer, str(rows[0][0])))
        return found

    def save_verdict(
        self, run_id: str, recipe: str, verdict: Verdict, kb_version: str, evidence: list[EvidenceItem]
    ) -> None:
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
        with self._tx() as c:
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

    def verdict(self, run_id: str) -> tuple[Verdict, str, list[EvidenceItem]] | None:
        """The stored verdict of a run, the knowledge-base version that decided it, and its evidence."""
        rows = self._query(
            "SELECT category, confidence, reason, kb_version, evidence_json, settle, rule, strength"
            " FROM verdicts WHERE run_id = ?",
            (run_id,),
        )
        if not rows:
            return None
        r = rows[0]
        evidence = [EvidenceItem(**{**item, "kind": EvidenceKind(item["kind"])}) for item in json.loads(r[4])]
        settle = NextStep(r[5]) if r[5] in {s.value for s in NextStep} else None
        return Verdict(Category.parse(r[0]), r[1], r[2], r[3], settle, r[6], Strength.parse(r[7])), r[3], evidence

    def verdict_categories(self, run_ids: Iterable[str]) -> dict[str, Category]:
        """run_id → category of the stored verdict, for those of these runs that have one."""
        ids = list(dict.fromkeys(run_ids))
        found: dict[str, Category] = {}
        for start in range(0, len(ids), 500):  # SQLite caps the number of bound parameters
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._query(f"SELECT run_id, category FROM verdicts WHERE run_id IN ({marks})", chunk)  # noqa: S608
            found.update((str(r[0]), Category.parse(r[1])) for r in rows)
        return found

    def counts(self) -> dict[str, int]:
        return {
            table: int(self._query(f"SELECT COUNT(*) FROM {table}")[0][0])  # noqa: S608 - fixed names
            for table in ("runs", "tiers", "testcases", "failures", "evidence", "canonicals")
        }
