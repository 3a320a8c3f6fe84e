"""Online backups of the store: `ccci-bot backup` while another process writes, and the automatic copy
taken before a schema migration."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bot.store import Store
from bot.store.backup import BACKUP_DIR, KEEP_MIGRATION_BACKUPS, BackupError, backup, migration_backup
from bot.store.schema import MIGRATIONS
from tests import rawdb


def count_meta(path: Path) -> int:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT count(*) FROM meta WHERE key LIKE 'w%'").fetchone()[0])


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, timeout=120)


def test_backup_while_a_writer_writes(tmp_path: Path) -> None:
    data = tmp_path / "state"
    store = Store(data / "ccci-bot.sqlite3")
    started, stop = threading.Event(), threading.Event()
    written = [0]

    def writer() -> None:  # commits one row per transaction, as fast as it can, until told to stop
        while not stop.is_set():
            store.meta.set(f"w{written[0]:08d}", "x" * 200)
            written[0] += 1
            if written[0] == 2000:
                started.set()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert started.wait(60)
        before = written[0]
        proc = cli("backup", "--data-dir", str(data), str(tmp_path / "copy.sqlite3"))
        after = written[0]
    finally:
        stop.set()
        thread.join()
    assert proc.returncode == 0, proc.stderr
    assert "integrity ok" in proc.stdout
    assert after > before  # the writer really wrote during the backup
    copy = tmp_path / "copy.sqlite3"
    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one self-contained file
    rows = count_meta(copy)
    assert before <= rows <= after + 1  # a committed state from within the backup's window
    assert copy.stat().st_mode & 0o077 == 0  # not readable by others
    assert not list(tmp_path.glob(".copy.sqlite3.partial"))
    store.close()


def test_backup_refuses_to_overwrite_and_reports_a_missing_store(tmp_path: Path) -> None:
    existing = tmp_path / "exists.sqlite3"
    existing.write_text("keep me")
    proc = cli("backup", "--data-dir", str(tmp_path), str(existing))
    assert proc.returncode == 2
    assert "exists" in proc.stderr
    assert existing.read_text() == "keep me"
    proc = cli("backup", "--data-dir", str(tmp_path / "nothing"), str(tmp_path / "new.sqlite3"))
    assert proc.returncode == 1
    assert "no database there" in proc.stderr
    assert not (tmp_path / "nothing").exists()  # a backup creates no store


def old_database(path: Path, version: int) -> None:
    """A database as an older bot left it: the first ``version`` migrations, and a row."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        for n, script in enumerate(MIGRATIONS[:version], start=1):
            conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {n};\nCOMMIT;")
        conn.execute("INSERT INTO meta (key, value) VALUES ('from-old-bot', 'yes')")


def test_migration_from_an_older_schema_leaves_a_backup(tmp_path: Path) -> None:
    assert len(MIGRATIONS) >= 2, "needs an older schema to migrate from"
    db = tmp_path / "state" / "ccci-bot.sqlite3"
    old = len(MIGRATIONS) - 1
    old_database(db, old)
    store = Store(db)
    assert store.schema_version == len(MIGRATIONS)
    store.close()
    backups = list((db.parent / BACKUP_DIR).glob(f"ccci-bot-v{old}-*.sqlite3"))
    assert len(backups) == 1
    with sqlite3.connect(backups[0]) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == old
        assert conn.execute("SELECT value FROM meta WHERE key = 'from-old-bot'").fetchone()[0] == "yes"
        assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    Store(db).close()  # already current: no second backup
    assert len(list((db.parent / BACKUP_DIR).iterdir())) == 1


def test_a_new_store_takes_no_backup_and_only_the_last_few_are_kept(tmp_path: Path) -> None:
    db = tmp_path / "ccci-bot.sqlite3"
    Store(db).close()
    assert not (tmp_path / BACKUP_DIR).exists()
    made = [migration_backup(db, 1).path for _ in range(KEEP_MIGRATION_BACKUPS + 2)]
    assert len(set(made)) == len(made)
    kept = sorted(p.name for p in (tmp_path / BACKUP_DIR).iterdir())
    assert len(kept) == KEEP_MIGRATION_BACKUPS
    assert kept == sorted(p.name for p in made[-KEEP_MIGRATION_BACKUPS:])  # the oldest went


# --- issue 25, item 13: backups at once, and a destination that cannot be made ----------------------


def test_a_backup_leaves_another_backups_partial_copy_alone(tmp_path: Path) -> None:
    """Another `ccci-bot backup` to the same file is half-way through its copy: this one must not
    delete it (the other would then report success for an incomplete copy)."""
    data = tmp_path / "state"
    Store(data / "ccci-bot.sqlite3").close()
    dest = tmp_path / "copy.sqlite3"
    others = tmp_path / ".copy.sqlite3.partial"  # the name a backup used for its copy in progress
    others.write_bytes(b"another backup's pages, still being written")
    assert backup(data / "ccci-bot.sqlite3", dest).path == dest
    assert others.read_bytes() == b"another backup's pages, still being written"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".copy.sqlite3.partial", "copy.sqlite3", "state"]


def test_a_backup_never_replaces_a_file_that_appeared_meanwhile(tmp_path: Path) -> None:
    data = tmp_path / "state"
    Store(data / "ccci-bot.sqlite3").close()
    dest = tmp_path / "copy.sqlite3"
    backup(data / "ccci-bot.sqlite3", dest)
    first = dest.read_bytes()
    with pytest.raises(BackupError, match="exists"):
        backup(data / "ccci-bot.sqlite3", dest)
    assert dest.read_bytes() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.sqlite3", "state"]  # no copy left behind


def test_two_backups_to_one_file_at_once_one_wins_whole_and_the_other_says_exists(tmp_path: Path) -> None:
    """Two backups (threads: SQLite copies without holding the GIL, so the copies overlap) to one file.
    Whatever the timing, exactly one finishes and its copy is whole; the other says the file exists
    (`ccci-bot backup` prints that and exits 1). Before, each deleted the other's `.partial`, and
    both could report success."""
    data = tmp_path / "state"
    store = Store(data / "ccci-bot.sqlite3")
    store.close()
    with rawdb.writing(data / "ccci-bot.sqlite3") as conn:  # big enough that the two copies overlap in time
        conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)", ((f"w{i:08d}", "x" * 400) for i in range(40000))
        )
    dest = tmp_path / "copy.sqlite3"
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def one() -> None:
        start.wait()
        try:
            backup(data / "ccci-bot.sqlite3", dest)
            outcomes.append("made")
        except BackupError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(outcomes) == 2 and outcomes.count("made") == 1, outcomes
    assert "exists" in next(o for o in outcomes if o != "made"), outcomes
    assert count_meta(dest) == 40000  # the copy that is there is whole
    with sqlite3.connect(dest) as conn:
        assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.sqlite3", "state"]


@pytest.mark.parametrize("dest", ["/proc/nonexistent/x", "/proc/version/copy.sqlite3"])
def test_a_destination_that_cannot_be_made_is_a_clear_message(tmp_path: Path, dest: str) -> None:
    Store(tmp_path / "ccci-bot.sqlite3").close()
    proc = cli("backup", "--data-dir", str(tmp_path), dest)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("ccci-bot: "), proc.stderr
    assert "Traceback" not in proc.stderr
    assert str(Path(dest).parent) in proc.stderr
