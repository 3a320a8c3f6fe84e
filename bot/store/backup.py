"""Consistent copies of the history database, taken with SQLite's online backup API.

The backup API copies pages under SQLite's own locking, so a copy taken while the bot writes is a
snapshot of one committed state — unlike ``cp`` of a WAL database, which can catch a torn file.
The bot takes one itself before every schema migration (``<data_dir>/backups/``, the last few kept).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.errors import Failure

KEEP_MIGRATION_BACKUPS = 5
BACKUP_DIR = "backups"


class BackupError(Failure):
    """The copy could not be made (unreadable source, unwritable destination, not a database)."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    bytes: int
    schema_version: int
    seconds: float


def backup(source: Path, dest: Path) -> BackupResult:
    """Copy the database at ``source`` to ``dest`` (created 0600, never replacing a file), then check it.

    ``source`` is opened read-only: a backup never creates or migrates a database. The copy is
    written to a temporary file of its own beside ``dest`` and linked into place only while ``dest``
    does not exist, so two backups to the same file at once never touch each other's copy and the
    second one says the file exists.
    """
    if not source.is_file():
        raise BackupError(f"{source}: no database there (is data_dir right?)")
    started = time.monotonic()
    partial = _temporary_beside(dest)
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
        _publish(partial, dest)
    except sqlite3.Error as exc:
        raise BackupError(f"backup of {source} failed: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    return BackupResult(dest, dest.stat().st_size, version, time.monotonic() - started)


def _temporary_beside(dest: Path) -> Path:
    """A new empty file (0600, a name no other process has) in ``dest``'s dir, made if need be."""
    folder = dest.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".partial", dir=folder)
    except FileExistsError:
        raise BackupError(f"{folder}: not a directory; choose a file in a directory") from None
    except OSError as exc:
        raise BackupError(f"{folder}: cannot write the copy there ({exc.strerror or exc})") from None
    os.close(fd)
    return Path(name)


def _publish(partial: Path, dest: Path) -> None:
    """Give the finished copy its name unless a file has that name by now (a hard link fails then;
    where the file system has none, an exclusive create and a copy)."""
    try:
        os.link(partial, dest)
        return
    except FileExistsError:
        raise BackupError(f"{dest} exists (another backup finished first?); a backup never replaces a file") from None
    except OSError:
        pass  # no hard links here (vfat, some network file systems)
    try:
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise BackupError(f"{dest} exists (another backup finished first?); a backup never replaces a file") from None
    except OSError as exc:
        raise BackupError(f"{dest}: cannot write the copy there ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "wb") as out, partial.open("rb") as copy:
            shutil.copyfileobj(copy, out)
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        dest.unlink(missing_ok=True)  # ours: made by the exclusive create above
        raise BackupError(f"{dest}: cannot write the copy there ({exc.strerror or exc})") from None


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
