"""The store's core: one SQLite file, opened, checked, migrated and shared by the repositories.

Only the repositories of this package (``bot/store/*.py``) read or write through it: ``_query``,
``_tuples`` and ``_transaction`` are private to the package (tests/test_architecture.py checks that
no module outside it touches them), so every table's SQL lives beside the one repository that owns it.
Synchronous by design: callers in the bot run the repositories through ``asyncio.to_thread`` (see
:mod:`bot.service`), so SQLite never blocks the event loop.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.store.backup import migration_backup
from bot.store.check import verify
from bot.store.errors import StoreError, explain
from bot.store.schema import migrate

log = logging.getLogger(__name__)

# What a write to a store that cannot be written raises (a full disk: "database or disk is full"), for the
# callers that must survive one without speaking SQLite themselves.
STORE_WRITE_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, OSError)

MAX_PARAMS = 500  # ids bound per IN (…) list: SQLite caps the number of bound parameters


def chunks(items: list[str], size: int = MAX_PARAMS) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def marks(chunk: list[str]) -> str:
    """The ``?,?,…`` of an ``IN (…)`` list for these values."""
    return ",".join("?" * len(chunk))


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


class Database:
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

    # --- for the repositories of this package only -------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE … COMMIT), rolled back on any error."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _query(self, sql: str, params: Iterable[object] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, tuple(params)).fetchall()

    def _tuples(self, sql: str, params: Iterable[object] = ()) -> list[tuple[Any, ...]]:
        """Rows as plain tuples: for a large result, sqlite3.Row objects cost more than the query."""
        with self._lock:
            cursor = self._conn.cursor()
            cursor.row_factory = None
            return cursor.execute(sql, tuple(params)).fetchall()
