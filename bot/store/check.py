"""What a store file must be before the bot trusts it: SQLite, a schema version this code knows, and
exactly the schema objects its migrations define.

A SQLite file can carry code: a trigger runs on every insert it names, a view answers for a table.
A backup from elsewhere (or edited after it was taken) with one more ``CREATE TRIGGER … AFTER INSERT
ON runs`` would queue messages and rewrite runs on each ingest. So every open compares the store's
``sqlite_master`` (tables, indexes, triggers, views: type, name, table and SQL) with what the
migrations up to its version define — found by applying them to an in-memory database, once per
process — and refuses anything else. Refusing, not dropping: a store that differs was restored from
somewhere the operator should look at; :func:`repair` (``ccci-bot repair-store``) drops the extra
objects after taking a backup, when the operator decides to.
"""

from __future__ import annotations

import contextlib
import functools
import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

from bot.store.backup import safety_copy
from bot.store.errors import RESTORE_HINT, StoreError, explain
from bot.store.schema import MIGRATIONS, schema_version, statements

REPAIR_HINT = "run `ccci-bot repair-store` (it drops them after a backup), or restore a backup you made"
# SQLite's own tables, which appear without the migrations: AUTOINCREMENT's counters and ANALYZE's
# statistics (an operator may run ANALYZE or PRAGMA optimize). They hold data for SQLite, never code.
_SQLITE_TABLES = frozenset({"sqlite_sequence", "sqlite_stat1", "sqlite_stat2", "sqlite_stat3", "sqlite_stat4"})
_SPACE = re.compile(r"\s+")


class Kind(StrEnum):
    """A schema object's type, as ``sqlite_master`` spells it; the order a repair drops them in."""

    TRIGGER = "trigger"
    VIEW = "view"
    INDEX = "index"
    TABLE = "table"


@dataclass(frozen=True)
class SchemaObject:
    kind: Kind
    name: str
    table: str
    sql: str | None  # whitespace runs collapsed; None for the indexes SQLite makes for a PRIMARY KEY/UNIQUE

    def __str__(self) -> str:
        return f"{self.kind.value} {self.name}"


@dataclass(frozen=True)
class SchemaDrift:
    """How a store's schema differs from what its version's migrations define."""

    extra: tuple[SchemaObject, ...] = ()  # not defined by the migrations
    changed: tuple[SchemaObject, ...] = ()  # defined, but with other SQL (the store's version of it)
    missing: tuple[SchemaObject, ...] = ()  # defined, not there

    def __bool__(self) -> bool:
        return bool(self.extra or self.changed or self.missing)

    @property
    def repairable(self) -> bool:
        """Only tables hold data: any other object can be dropped or made again from the migrations."""
        return not any(o.kind is Kind.TABLE for o in (*self.changed, *self.missing))

    def describe(self) -> str:
        parts = []
        for label, objects in (("not defined by its migrations", self.extra), ("altered", self.changed)):
            if objects:
                parts.append(f"{label}: {', '.join(_shown(o) for o in objects)}")
        if self.missing:
            parts.append(f"missing: {', '.join(str(o) for o in self.missing)}")
        return "; ".join(parts)

    @property
    def fix(self) -> str:
        return REPAIR_HINT if self.repairable else RESTORE_HINT


def _shown(obj: SchemaObject) -> str:
    return f"{obj} (on {obj.table})" if obj.kind in (Kind.TRIGGER, Kind.INDEX) else str(obj)


def _normal(sql: str | None) -> str | None:
    return None if sql is None else _SPACE.sub(" ", sql).strip()


def schema_objects(conn: sqlite3.Connection) -> dict[str, SchemaObject]:
    """The store's schema objects by name (SQLite's own tables left out)."""
    found: dict[str, SchemaObject] = {}
    for kind, name, table, sql in conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"):
        if kind == "table" and name in _SQLITE_TABLES:
            continue
        try:
            typed = Kind(kind)
        except ValueError:  # a type SQLite does not make itself: it came from an edited file
            unknown = f"the schema holds an object of unknown type {kind!r} ({name!r})"
            raise StoreError(f"{unknown}; {RESTORE_HINT}") from None
        found[str(name)] = SchemaObject(typed, str(name), str(table), _normal(sql))
    return found


@functools.cache
def expected_schema(version: int) -> Mapping[str, SchemaObject]:
    """The schema objects the first ``version`` migrations define, by name.

    Made by running them on an in-memory database, so it is what this SQLite makes of them, as it
    made it when the store was migrated; once per process and version (milliseconds: most of it is
    SQLite re-reading its schema after each statement)."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        for script in MIGRATIONS[:version]:
            for statement in statements(script):
                conn.execute(statement)
        return MappingProxyType(schema_objects(conn))
    finally:
        conn.close()


def drift(conn: sqlite3.Connection, version: int) -> SchemaDrift:
    """How ``conn``'s schema differs from what the first ``version`` migrations define."""
    have = schema_objects(conn)
    want = expected_schema(version)
    return SchemaDrift(
        extra=tuple(have[n] for n in sorted(have.keys() - want.keys())),
        changed=tuple(have[n] for n in sorted(have.keys() & want.keys()) if have[n] != want[n]),
        missing=tuple(want[n] for n in sorted(want.keys() - have.keys())),
    )


def verify(conn: sqlite3.Connection) -> int:
    """Check an open store before anything is written to it; return its schema version.

    The version and the schema are read in one read transaction, so a migration another process
    commits meanwhile is seen whole or not at all. :class:`StoreError` says what is wrong."""
    conn.execute("BEGIN")
    try:
        version = schema_version(conn)
        found = drift(conn, version)
    finally:
        conn.execute("ROLLBACK")  # it only read
    if found:
        raise StoreError(f"its schema is not what this bot's migrations define ({found.describe()}); fix: {found.fix}")
    return version


@dataclass(frozen=True)
class Repair:
    """What :func:`repair` did: each object dropped or made again, in order."""

    dropped: tuple[SchemaObject, ...]
    made: tuple[SchemaObject, ...]

    def __bool__(self) -> bool:
        return bool(self.dropped or self.made)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def repair(conn: sqlite3.Connection) -> Repair:
    """Drop the schema objects the migrations do not define and remake altered or missing indexes and
    triggers from them, in one transaction. :class:`StoreError` (nothing changed) when a table
    differs: its rows cannot be re-made, the fix is a backup the operator made.

    ``conn`` must have ``isolation_level=None``; the caller takes a backup first."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = schema_version(conn)
        found = drift(conn, version)
        if not found.repairable:
            raise StoreError(f"its tables differ from the migrations' ({found.describe()}); {RESTORE_HINT}")
        order = list(Kind)
        gone = sorted((*found.extra, *found.changed), key=lambda o: order.index(o.kind))
        for obj in gone:
            conn.execute(f"DROP {obj.kind.value.upper()} IF EXISTS {_quoted(obj.name)}")
        want = expected_schema(version)
        # tables before what is built on them; no missing table gets here (not repairable)
        made = sorted((want[o.name] for o in (*found.changed, *found.missing)), key=lambda o: -order.index(o.kind))
        for obj in made:
            assert obj.sql is not None, "an object SQLite makes itself is never missing without its table"
            conn.execute(obj.sql)
        if "run_total" in want and any(o.kind is Kind.TRIGGER for o in made):
            conn.execute("UPDATE run_total SET n = (SELECT count(*) FROM runs)")  # its triggers were off
        left = drift(conn, version)
        if left:
            raise StoreError(f"the repair left the schema still different ({left.describe()}); {RESTORE_HINT}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return Repair(tuple(gone), tuple(made))


def repair_file(path: Path) -> tuple[Repair, Path | None]:
    """``ccci-bot repair-store``: check the store at ``path`` and, if it differs, take a copy of it as it
    is (``<data_dir>/backups/…-repair-…``, for whoever looks into where it came from), then
    :func:`repair` it. Returns what was done and where the copy went (None: nothing to repair)."""
    if not path.is_file():
        raise StoreError("no store there (is data_dir right?)")
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        try:
            conn.execute("PRAGMA trusted_schema=OFF")
            conn.execute("BEGIN")
            try:
                found = drift(conn, schema_version(conn))
            finally:
                conn.execute("ROLLBACK")
            if not found:
                return Repair((), ()), None
            if not found.repairable:
                raise StoreError(f"its tables differ from the migrations' ({found.describe()}); {RESTORE_HINT}")
            kept = safety_copy(path, "repair")
            return repair(conn), kept.path
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StoreError(explain(exc)) from exc


@dataclass(frozen=True)
class Inspection:
    """A store as ``doctor`` sees it, read-only."""

    integrity: str  # PRAGMA quick_check's verdict ("ok")
    version: int
    drift: SchemaDrift  # empty when the version is one this code does not know


def inspect_file(path: Path) -> Inspection:
    """quick_check, the schema version and the schema drift, without creating, migrating or repairing."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)) as conn:
            conn.execute("PRAGMA trusted_schema=OFF")
            integrity = str(conn.execute("PRAGMA quick_check").fetchone()[0])
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            known = 0 <= version <= len(MIGRATIONS)
            return Inspection(integrity, version, drift(conn, version) if known else SchemaDrift())
    except sqlite3.Error as exc:
        raise StoreError(explain(exc)) from exc
