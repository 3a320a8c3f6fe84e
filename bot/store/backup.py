"""Consistent copies of the history database, taken with SQLite's online backup API.

The backup API copies pages under SQLite's own locking, so a copy taken while the bot writes is a
snapshot of one committed state — unlike ``cp`` of a WAL database, which can catch a torn file.
The bot takes one itself before every schema migration (``<data_dir>/backups/``, the last few kept).
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

KEEP_MIGRATION_BACKUPS = 5
BACKUP_DIR = "backups"


class BackupError(Exception):
    """The copy could not be made (unreadable source, unwritable destination, not a database)."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    bytes: int
    schema_version: int
    seconds: float


def backup(source: Path, dest: Path) -> BackupResult:
    """Copy the database at ``source`` to ``dest`` (created 0600, replaced atomically), then check it.

    ``source`` is opened read-only: a backup never creates or migrates a database.
    """
    if not source.is_file():
        raise BackupError(f"{source}: no database there (is data_dir right?)")
    started = time.monotonic()
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f".{dest.name}.partial")
    partial.unlink(missing_ok=True)
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # never world-readable
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
        try:
            out = sqlite3.connect(partial)
            try:
                src.backup(out)  # one step: under WAL a reader holds a snapshot and writers go on
                out.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
                check = out.execute("PRAGMA quick_check").fetchone()[0]
                version = int(out.execute("PRAGMA user_version").fetchone()[0])
            finally:
                out.close()
        finally:
            src.close()
        if check != "ok":
            raise BackupError(f"the copy of {source} fails quick_check: {check}")
        partial.replace(dest)
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"backup of {source} failed: {exc}") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return BackupResult(dest, dest.stat().st_size, version, time.monotonic() - started)


def safety_copy(db_path: Path, label: str) -> BackupResult:
    """A copy in ``<data_dir>/backups/`` named by ``label`` and the time, taken before the bot changes
    the store's schema itself (a migration, a repair)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    return backup(db_path, db_path.parent / BACKUP_DIR / f"{db_path.stem}-{label}-{stamp}.sqlite3")


def migration_backup(db_path: Path, from_version: int, keep: int = KEEP_MIGRATION_BACKUPS) -> BackupResult:
    """The copy taken before migrating from ``from_version``; only the newest ``keep`` are kept."""
    folder = db_path.parent / BACKUP_DIR
    result = safety_copy(db_path, f"v{from_version}")
    olds = sorted(folder.glob(f"{db_path.stem}-v*-*.sqlite3"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in olds[keep:]:
        old.unlink(missing_ok=True)
    return result
