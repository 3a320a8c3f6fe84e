"""The store's file on a connection of the test's own, for what a test checks or sets up beneath the
repositories (they keep their SQL, and their connection, to themselves: bot/store/).

The one module outside bot/store/ that may touch the store's core (:func:`refuse_writes`: a full disk
cannot be made here); tests/test_architecture.py holds every other module to the repositories."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from bot.store import Store


def _path(where: Store | Path) -> Path:
    return where.path if isinstance(where, Store) else where


def rows(where: Store | Path, sql: str, params: Iterable[object] = ()) -> list[tuple[Any, ...]]:
    """What ``sql`` reads from the store's file now (committed rows only)."""
    with contextlib.closing(sqlite3.connect(_path(where), timeout=30)) as conn:
        return conn.execute(sql, tuple(params)).fetchall()


@contextlib.contextmanager
def writing(where: Store | Path) -> Iterator[sqlite3.Connection]:
    """One write transaction on the store's file, committed when the block ends (rolled back on an error)."""
    with contextlib.closing(sqlite3.connect(_path(where), timeout=30)) as conn, conn:
        yield conn


def refuse_writes(store: Store, refuse: bool = True) -> None:
    """Make SQLite refuse every write on the store's own connection, as a full disk would (the same
    error class): ``PRAGMA query_only`` holds for the one connection it is set on."""
    store._db._conn.execute(f"PRAGMA query_only = {'ON' if refuse else 'OFF'}")


@contextlib.contextmanager
def statements(store: Store) -> Iterator[list[str]]:
    """Every SQL statement the store's own connection runs inside the block, its parameters filled in
    (SQLite's trace callback), for a test to look at how they are planned."""
    seen: list[str] = []
    store._db._conn.set_trace_callback(seen.append)
    try:
        yield seen
    finally:
        store._db._conn.set_trace_callback(None)
