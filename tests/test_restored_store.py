"""Restored and foreign stores (issue 25, items 9 and 13c): a backup that carries code (a trigger, a view,
an altered table) is refused on open and named by `doctor`; `repair-store` drops what the migrations
do not define; a store from a newer bot or a file that is not SQLite is a clear message, never a
traceback."""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.cli import main
from bot.store import Store
from bot.store.schema import MIGRATIONS
from tests.conftest import Site

DB_NAME = "ccci-bot.sqlite3"

# What the attacker's backup carried: on every ingest, queue a reassuring message and flip the run green.
EVIL_TRIGGER = """
CREATE TRIGGER all_green AFTER INSERT ON runs BEGIN
    INSERT INTO outbox (txn_id, room_id, event_type, content_json, created_at)
        VALUES ('evil-' || NEW.run_id, '!ops:example.org', 'm.room.message',
                '{"msgtype": "m.text", "body": "all green, ignore alerts"}', 0);
    UPDATE runs SET status = 'green' WHERE run_id = NEW.run_id;
END
"""

TAMPERINGS: dict[str, tuple[str, str]] = {
    # name: (SQL run on the backup, what the refusal must name)
    "trigger": (EVIL_TRIGGER, "trigger all_green"),
    "view": ("CREATE VIEW greenwash AS SELECT run_id, 'green' AS status FROM runs", "view greenwash"),
    "table-altered": ("ALTER TABLE outbox ADD COLUMN note TEXT DEFAULT 'all green'", "table outbox"),
    "index-altered": (
        "DROP INDEX runs_by_sweep; CREATE INDEX runs_by_sweep ON runs(sweep_id) WHERE status = 'red'",
        "index runs_by_sweep",
    ),
    "trigger-dropped": ("DROP TRIGGER runs_counted_in", "trigger runs_counted_in"),
    "table-extra": ("CREATE TABLE later (note TEXT); INSERT INTO later VALUES ('x')", "table later"),
}


def flags(site: Site, data: Path) -> list[str]:
    return ["--runs-dir", str(site.runs_dir), "--warm-dir", str(site.warm_dir), "--data-dir", str(data)]


def restored(tmp_path: Path, tamper: str) -> Path:
    """A data dir restored from a backup `ccci-bot backup` made, which someone then edited."""
    data = tmp_path / "restored"
    Store(data / DB_NAME).close()
    copy = tmp_path / "backup.sqlite3"
    assert main(["backup", "--data-dir", str(data), str(copy)]) == 0
    with contextlib.closing(sqlite3.connect(copy)) as conn:
        conn.executescript(tamper)
    shutil.copy(copy, data / DB_NAME)  # the restore, as the README describes it: the bot is stopped
    return data


def rows(data: Path, sql: str) -> list[tuple[object, ...]]:
    """Read the store without the bot (a read fires no trigger)."""
    with contextlib.closing(sqlite3.connect(f"file:{data / DB_NAME}?mode=ro", uri=True)) as conn:
        return conn.execute(sql).fetchall()


def doctor_store(data: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    capsys.readouterr()
    main(["doctor", "--json", "--data-dir", str(data)])
    found = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    return found["store"]


@pytest.mark.parametrize("kind", sorted(TAMPERINGS))
def test_a_restored_store_with_schema_objects_the_migrations_do_not_define_is_refused(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    tamper, named = TAMPERINGS[kind]
    data = restored(tmp_path, tamper)
    capsys.readouterr()
    for command in (["ingest"], ["status"]):
        assert main([*command, *flags(site, data)]) == 1, command
        err = capsys.readouterr().err
        assert named in err, err
        assert "repair-store" in err or "restore a backup you made" in err, err
    assert rows(data, "SELECT count(*) FROM runs") == [(0,)]  # nothing was ingested
    assert rows(data, "SELECT count(*) FROM outbox") == [(0,)]  # no message queued
    check = doctor_store(data, capsys)
    assert check["outcome"] == "fail", check
    assert named in check["detail"], check
    assert check["fix"], check


def test_the_same_trigger_without_the_check_would_have_queued_a_message(tmp_path: Path) -> None:
    """What the refusal prevents, shown on a plain SQLite connection: the trigger runs on insert."""
    db = tmp_path / "plain.sqlite3"
    with sqlite3.connect(db) as conn:
        for script in MIGRATIONS:
            conn.executescript(script)
        conn.executescript(EVIL_TRIGGER)
        conn.execute(
            "INSERT INTO runs (run_id, recipe, status, unverified, derived, fingerprint, directory, raw_json,"
            " ingested_at) VALUES ('r1', 'mumble', 'red', 0, 0, '', '/x', '{}', 0)"
        )
        assert conn.execute("SELECT status FROM runs").fetchall() == [("green",)]
        assert conn.execute("SELECT count(*) FROM outbox").fetchone() == (1,)


def test_doctor_passes_an_untouched_store_and_names_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "restored"
    Store(data / DB_NAME).close()
    check = doctor_store(data, capsys)
    assert check["outcome"] == "pass", check
    assert f"schema v{len(MIGRATIONS)}" in check["detail"]


def test_repair_store_drops_the_extra_code_after_a_backup_and_the_store_opens_again(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tampers = [EVIL_TRIGGER, *(TAMPERINGS[k][0] for k in ("view", "index-altered", "trigger-dropped", "table-extra"))]
    data = restored(tmp_path, ";".join(tampers))
    capsys.readouterr()
    assert main(["repair-store", "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    for named in ("dropped trigger all_green", "view greenwash", "index runs_by_sweep", "table later"):
        assert named in out, out
    assert "made trigger runs_counted_in again" in out, out
    kept = list((data / "backups").glob("*repair*.sqlite3"))
    assert len(kept) == 1  # the store as it was, kept for whoever looks into it
    with sqlite3.connect(kept[0]) as conn:
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'all_green'").fetchone() == (1,)
    assert doctor_store(data, capsys)["outcome"] == "pass"
    assert main(["ingest", *flags(site, data)]) == 0
    assert rows(data, "SELECT count(*) FROM outbox") == [(0,)]
    assert rows(data, "SELECT count(*) FROM runs WHERE status = 'red'")[0][0] > 0  # nothing was flipped
    assert rows(data, "SELECT n FROM run_total") == rows(data, "SELECT count(*) FROM runs")
    capsys.readouterr()
    assert main(["repair-store", "--data-dir", str(data)]) == 0
    assert "nothing to repair" in capsys.readouterr().out


def test_repair_store_refuses_a_store_whose_tables_differ(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = restored(tmp_path, TAMPERINGS["table-altered"][0])
    before = (data / DB_NAME).read_bytes()
    capsys.readouterr()
    assert main(["repair-store", "--data-dir", str(data)]) == 1
    err = capsys.readouterr().err
    assert "table outbox" in err and "restore a backup you made" in err, err
    assert (data / DB_NAME).read_bytes() == before


# --- 13c: newer and foreign stores -----------------------------------------------------------------


def newer(path: Path) -> None:
    Store(path).close()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")


def not_sqlite(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is a shell history, not a database\n" * 200)


def sqlite_header_then_garbage(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 64)


FOREIGN: dict[str, tuple[Callable[[Path], None], str]] = {
    "newer": (newer, f"newer than this bot knows ({len(MIGRATIONS)})"),
    "not-sqlite": (not_sqlite, "not a SQLite database"),
    "damaged-header": (sqlite_header_then_garbage, "not a SQLite database"),
}


@pytest.mark.parametrize("kind", sorted(FOREIGN))
def test_a_foreign_store_is_a_clear_message_and_exit_1(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    make, expected = FOREIGN[kind]
    data = tmp_path / "restored"
    make(data / DB_NAME)
    before = (data / DB_NAME).read_bytes()
    capsys.readouterr()
    for command in (["ingest"], ["status"], ["why", "mumble", "--no-ingest"], ["report", "red"]):
        assert main([*command, *flags(site, data)]) == 1, command
        err = capsys.readouterr().err
        assert expected in err, (command, err)
        assert err.startswith("ccci-bot: ") and "Traceback" not in err
    assert (data / DB_NAME).read_bytes() == before  # refused before anything was written
    check = doctor_store(data, capsys)
    assert check["outcome"] == "fail", check
