"""The one exception a store raises for a file it will not use, and the operator's sentence for what
SQLite said about a file that is damaged or not a database."""

from __future__ import annotations

import sqlite3

from bot.errors import Failure

RESTORE_HINT = "restore a backup you made (docs/deployment.md: Backups and restore)"


class StoreError(Failure):
    """The store cannot be used as it is (foreign, newer, damaged, or carrying other schema objects);
    the message says what and what to do, and is meant for the operator as it stands."""


def explain(exc: sqlite3.Error) -> str:
    """An operator's sentence for an error SQLite gave while a store was opened or read."""
    text = str(exc)
    if "file is not a database" in text:
        return f"not a SQLite database ({text}); {RESTORE_HINT}"
    if type(exc) is sqlite3.DatabaseError:  # SQLITE_CORRUPT and kin: the file is damaged
        return f"the file is damaged ({text}); `ccci-bot doctor` checks it; {RESTORE_HINT}"
    return text


def store_problem(exc: BaseException) -> str | None:
    """What to tell the operator when ``exc`` is the store's fault — a :class:`StoreError`, or SQLite
    finding the file damaged while reading it — else None (a bug: its traceback is the useful part)."""
    if isinstance(exc, StoreError):
        return str(exc)
    if type(exc) is sqlite3.DatabaseError:
        return f"the store: {explain(exc)}"
    return None
