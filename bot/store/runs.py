"""The runs' history as the answers read it (the runs table; an ingest writes it: bot.store.ingest).

Answers never read a recipe's whole history: the status run, its reruns, the red streak, the runs of
a version and the last n runs are each an indexed query with a LIMIT (the ``runs_by_recipe_*``
indexes of bot.store.schema).
"""

from __future__ import annotations

import sqlite3

from bot.model.records import RunKind, RunRow, RunStatus
from bot.store.database import Database

RUN_COLUMNS = "run_id, recipe, version, pr, started, finished, status, unverified, kind, sweep_id, derived, retired_at"

# The reverse of :meth:`RunStore.runs_of`'s order (an unfinished run counts as the newest); the
# runs_by_recipe_* indexes hold it, so "the last n" is an index walk with a LIMIT.
NEWEST_FIRST = "ORDER BY finished IS NULL DESC, finished DESC, run_id DESC"
# The same order where the query fixes ``(finished IS NULL) = 0``: SQLite does not see that the first term is
# then constant and sorts in a temp b-tree (7.5 ms for a recipe's 1,700 green runs at 50,000) instead of
# walking the index's order (0.07 ms).
FINISHED_NEWEST_FIRST = "ORDER BY finished DESC, run_id DESC"


def run_order(run: RunRow) -> tuple[bool, float, str]:
    """:meth:`RunStore.runs_of`'s order as a sort key."""
    return (run.finished is None, run.finished or 0.0, run.run_id)


def run_row(row: sqlite3.Row) -> RunRow:
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


class RunStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def recipes(self) -> list[str]:
        """Every recipe, sorted: a skip-scan of the recipe index, one probe per recipe, not per run."""
        rows = self._db._query(
            "WITH RECURSIVE r(recipe) AS (SELECT MIN(recipe) FROM runs"
            " UNION ALL SELECT (SELECT MIN(recipe) FROM runs WHERE recipe > r.recipe) FROM r"
            " WHERE r.recipe IS NOT NULL)"
            " SELECT recipe FROM r WHERE recipe IS NOT NULL"
        )
        return [r[0] for r in rows]

    def get(self, run_id: str) -> RunRow | None:
        rows = self._db._query(f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,))  # noqa: S608
        return run_row(rows[0]) if rows else None

    def run_directory(self, run_id: str) -> str | None:
        rows = self._db._query("SELECT directory FROM runs WHERE run_id = ?", (run_id,))
        return str(rows[0][0]) if rows else None

    def green_runs(self) -> list[tuple[str, str, str]]:
        """Every green run as (run_id, recipe, directory), newest first: `learn` checks that a taught
        pattern matches none of them."""
        rows = self._db._query(
            "SELECT run_id, recipe, directory FROM runs WHERE status = ?"
            " ORDER BY finished IS NULL, finished DESC, run_id",
            (RunStatus.GREEN.value,),
        )
        return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]

    def count(self) -> int:
        """How many runs are stored: one row kept by triggers (run_total), not a count of the table."""
        return int(self._db._query("SELECT n FROM run_total")[0][0])

    def count_rows(self) -> int:
        """How many runs are stored, counted row by row (what :meth:`count` is checked against)."""
        return int(self._db._query("SELECT COUNT(*) FROM runs")[0][0])

    def runs_of(self, recipe: str) -> list[RunRow]:
        """A recipe's runs, oldest first, ordered by when they finished (never by id)."""
        rows = self._db._query(
            f"SELECT {RUN_COLUMNS} FROM runs WHERE recipe = ? ORDER BY finished IS NULL, finished, run_id",  # noqa: S608
            (recipe,),
        )
        return [run_row(r) for r in rows]

    def last_runs(self, recipe: str, n: int) -> list[RunRow]:
        """A recipe's last ``n`` runs in :meth:`runs_of` order, by index (history without reading it all)."""
        rows = self._db._query(
            f"SELECT {RUN_COLUMNS} FROM runs WHERE recipe = ? {NEWEST_FIRST} LIMIT ?",  # noqa: S608 - fixed text
            (recipe, n),
        )
        return [run_row(r) for r in reversed(rows)]

    def last_runs_by_kind(self, recipe: str) -> list[RunRow]:
        """One recipe's last run of each kind, in :meth:`runs_of` order: one indexed probe per kind.

        The per-recipe twin of :meth:`last_run_of_each_kind`; what :func:`bot.store.status_run.target_run`
        needs to pick the recipe's status run without its history. Empty for a recipe never seen."""
        found: list[RunRow] = []
        for kind in RunKind:
            rows = self._db._query(
                f"SELECT {RUN_COLUMNS} FROM runs WHERE recipe = ? AND kind = ? {NEWEST_FIRST} LIMIT 1",  # noqa: S608
                (recipe, kind.value),
            )
            found += [run_row(r) for r in rows]
        return sorted(found, key=run_order)

    def last_run_of_each_kind(self) -> list[RunRow]:
        """Each recipe's last run of each kind ("last" as in :meth:`runs_of`), in :meth:`runs_of` order.

        What :func:`bot.store.status_run.target_run` needs to pick every recipe's status run at once: it looks
        only at a recipe's last sweep run and its last run that is not a PR."""
        rows = self._db._query(
            f"SELECT {RUN_COLUMNS} FROM (SELECT {RUN_COLUMNS}, ROW_NUMBER() OVER ("  # noqa: S608 - fixed columns
            " PARTITION BY recipe, kind ORDER BY finished IS NULL DESC, finished DESC, run_id DESC) AS n FROM runs)"
            " WHERE n = 1 ORDER BY recipe, finished IS NULL, finished, run_id"
        )
        return [run_row(r) for r in rows]

    def last_run_of_version(self, recipe: str, kind: RunKind, version: str | None) -> RunRow | None:
        """A recipe's last run of this kind and version ("last" as in :meth:`runs_of`)."""
        rows = self._db._query(
            f"SELECT {RUN_COLUMNS} FROM runs WHERE recipe = ? AND version IS ? AND kind = ?"  # noqa: S608
            f" {NEWEST_FIRST} LIMIT 1",
            (recipe, version, kind.value),
        )
        return run_row(rows[0]) if rows else None

    def reruns_of(self, target: RunRow, limit: int) -> list[RunRow]:
        """Other finished runs of the target's version: every isolation run, and sweep runs after it.

        The newest ``limit`` of them, in :meth:`runs_of` order (what :func:`bot.store.status_run.reruns_of` means)."""
        same = "recipe = ? AND kind = ? AND version IS ? AND run_id != ? AND status != ?"
        args = (target.recipe, target.version, target.run_id, RunStatus.UNKNOWN.value)
        isolation = self._db._query(  # the newest of the version's isolation runs, walked back by index
            f"SELECT {RUN_COLUMNS} FROM runs WHERE {same} {NEWEST_FIRST} LIMIT ?",  # noqa: S608
            (args[0], RunKind.ISOLATION.value, *args[1:], limit),
        )
        sweeps = self._db._query(  # sweep runs finished after it: a range of the index, never the history before it
            f"SELECT {RUN_COLUMNS} FROM runs WHERE {same} AND (finished IS NULL) = 0 AND finished > ?"  # noqa: S608
            f" {FINISHED_NEWEST_FIRST} LIMIT ?",
            (args[0], RunKind.SWEEP.value, *args[1:], target.finished or 0.0, limit),
        )
        return sorted((run_row(r) for r in (*isolation, *sweeps)), key=run_order)[-limit:]

    def same_version_runs(self, target: RunRow, limit: int) -> list[RunRow]:
        """The last ``limit`` runs of the target's version that are not PR runs, in :meth:`runs_of` order."""
        found: list[RunRow] = []
        for kind in RunKind:
            if kind is not RunKind.PR:
                rows = self._db._query(
                    f"SELECT {RUN_COLUMNS} FROM runs WHERE recipe = ? AND kind = ? AND version IS ?"  # noqa: S608
                    f" {NEWEST_FIRST} LIMIT ?",
                    (target.recipe, kind.value, target.version, limit),
                )
                found += [run_row(r) for r in rows]
        return sorted(found, key=run_order)[-limit:]

    def runs_up_to(self, target: RunRow, limit: int) -> list[RunRow]:
        """The newest ``limit`` runs of the target's recipe and kind that finished no later than it, newest first.

        A red streak is walked back from the target through these until a run that is not red."""
        rows = self._db._query(
            f"SELECT {RUN_COLUMNS} FROM runs WHERE recipe = ? AND kind = ? AND COALESCE(finished, 0) <= ?"  # noqa: S608
            f" {NEWEST_FIRST} LIMIT ?",
            (target.recipe, target.kind.value, target.finished or 0, limit),
        )
        return [run_row(r) for r in rows]

    def last_green_before(self, run: RunRow) -> RunRow | None:
        """The newest green released run (sweep or isolation) of the run's recipe that finished before it:
        the version a compare starts from. One index seek per kind (runs_by_recipe_kind_status)."""
        found = [
            run_row(row)
            for kind in (RunKind.SWEEP, RunKind.ISOLATION)
            for row in self._db._query(
                f"SELECT {RUN_COLUMNS} FROM runs WHERE recipe = ? AND kind = ? AND status = ?"  # noqa: S608
                f" AND (finished IS NULL) = 0 AND finished < ? {FINISHED_NEWEST_FIRST} LIMIT 1",
                (run.recipe, kind.value, RunStatus.GREEN.value, run.finished or 0),
            )
        ]
        return max(found, key=run_order, default=None)

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
            for row in self._db._query(
                f"SELECT finished IS NULL, COALESCE(finished, 0), run_id FROM runs WHERE {pool} AND status = ?"  # noqa: S608
                f" {NEWEST_FIRST} LIMIT 1",
                (*args, status.value),
            )
        ]
        if bounds:
            pool += " AND (finished IS NULL, COALESCE(finished, 0), run_id) > (?, ?, ?)"
            args += list(max(tuple(b) for b in bounds))
        first = self._db._query(
            f"SELECT {RUN_COLUMNS} FROM runs WHERE {pool} ORDER BY finished IS NULL, finished, run_id LIMIT 1",  # noqa: S608
            args,
        )
        count = int(self._db._query(f"SELECT COUNT(*) FROM runs WHERE {pool}", args)[0][0])  # noqa: S608
        return (run_row(first[0]) if first else None), count
