"""Backup benchmark: `ccci-bot backup`'s copy (SQLite's online backup API, then quick_check) of a store
of a given size, idle and while a writer commits one row per transaction as fast as it can.

    .venv/bin/python benchmarks/backup.py [--mb 200]
"""

from __future__ import annotations

import argparse
import contextlib
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))

from bot.store import Store
from bot.store.backup import backup


def fill(db: Path, megabytes: int) -> None:
    """Rows of ballast in the meta table, written on a connection of the benchmark's own."""
    row = "x" * 4000
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)", ((f"fill-{i}", row) for i in range(megabytes * 256))
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=200, help="size of the store to copy")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "ccci-bot.sqlite3"
        store = Store(db)
        fill(db, args.mb)
        size = db.stat().st_size / 2**20
        idle = backup(db, Path(tmp) / "idle.sqlite3")
        rate = size / idle.seconds
        print(f"store {size:.0f} MiB: idle backup {idle.seconds:.2f} s ({rate:.0f} MiB/s incl. quick_check)")

        stop, commits = threading.Event(), [0]

        def writer() -> None:
            while not stop.is_set():
                store.meta.set(f"w-{commits[0]}", "w")
                commits[0] += 1

        thread = threading.Thread(target=writer)
        thread.start()
        time.sleep(0.5)  # let the writer reach its pace before the copy starts (a benchmark, not a test)
        before = commits[0]
        busy = backup(db, Path(tmp) / "busy.sqlite3")
        during = commits[0] - before
        stop.set()
        thread.join()
        print(
            f"under a writer: backup {busy.seconds:.2f} s; the writer committed {during} transactions meanwhile "
            f"({during / busy.seconds:.0f}/s): writers are not blocked"
        )
        store.close()


if __name__ == "__main__":
    main()
