import asyncio
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from bot.model.records import Category, NextStep, Strength, Verdict
from bot.service import Service
from bot.store import Store, StoreError
from bot.store.reports import ReportKind
from bot.store.schema import MIGRATIONS
from tests import rawdb
from tests.conftest import Site


def test_new_database_is_migrated_to_the_latest_version_in_wal_mode(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    assert store.schema_version == len(MIGRATIONS)
    store.close()
    with sqlite3.connect(tmp_path / "db.sqlite3") as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    Store(tmp_path / "db.sqlite3").close()  # reopening applies nothing twice


def test_a_database_from_a_newer_bot_is_refused_clearly(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "db.sqlite3") as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(StoreError, match="newer than this bot knows"):
        Store(tmp_path / "db.sqlite3")


def test_service_answers_off_the_event_loop(site: Site) -> None:
    """While the service ingests and answers, the loop keeps running other tasks."""

    async def scenario() -> tuple[int, str]:
        service = Service(site.config)
        ticks = 0
        stop = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        await service.ingest()
        answer = await service.why("mumble")
        stop.set()
        await task
        service.close()
        return ticks, answer.recipe

    ticks, recipe = asyncio.run(scenario())
    assert recipe == "mumble"
    assert ticks > 10  # the loop was free while ingest ran in a worker thread


def test_upgrading_a_version_1_database_re_reads_runs_to_fill_new_columns(site: Site) -> None:
    from bot.ingest.scan import ingest

    path = site.config.db_path.parent / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(MIGRATIONS[0] + "\nPRAGMA user_version = 1;")
        conn.execute(
            "INSERT INTO runs (run_id, recipe, status, unverified, derived, fingerprint, directory, raw_json,"
            " ingested_at) VALUES ('753', 'gitea', 'red', 0, 0, 'old', '/x', '{}', 0)"
        )
    store = Store(path)
    assert store.schema_version == len(MIGRATIONS)
    assert store.ingest.fingerprints() == {"753": ""}  # forces a re-read on the next ingest
    ingest(store, site.config)
    errors = [
        f for r in store.runs.recipes() for run in store.runs.runs_of(r) for f in store.results.failures(run.run_id)
    ]
    assert any(f.status == "error" for f in errors)  # the new column is filled from the JUnit files
    store.close()


def test_stored_reasons_lose_the_chat_command_they_carried_and_keep_what_would_settle_them(tmp_path: Path) -> None:
    """Verdicts stored before reasons were neutral: the migration moves the command into `settle`."""
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    settle = next(n for n, script in enumerate(MIGRATIONS) if "ADD COLUMN settle" in script)
    for version, script in enumerate(MIGRATIONS[:settle], start=1):  # the database as it was before it
        conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {version};\nCOMMIT;")
    old = "tests failed; no known signature — run `!ccci rerun outline` to tell a flake from a deterministic failure"
    conn.execute(
        "INSERT INTO verdicts VALUES (?,?,?,?,?,?,?,?)", ("760", "outline", "unknown", 0.3, old, "kb-1", "[]", 0.0)
    )
    conn.execute(
        "INSERT INTO verdicts VALUES (?,?,?,?,?,?,?,?)", ("761", "immich", "flake", 0.9, "green alone", "kb-1", "[]", 0)
    )
    conn.commit()
    conn.close()
    store = Store(path)
    try:
        migrated = store.verdicts.get("760")
        untouched = store.verdicts.get("761")
        assert migrated is not None and untouched is not None
        assert migrated.verdict.reason == (
            "tests failed; no known signature — an isolation rerun would tell a flake from a deterministic failure"
        )
        assert migrated.verdict.settle is NextStep.ISOLATION_RERUN
        assert untouched.verdict.reason == "green alone" and untouched.verdict.settle is None
    finally:
        store.close()


def test_what_a_verdict_rests_on_is_stored_with_it_and_absent_before_it_was(tmp_path: Path) -> None:
    """Each strength round-trips; a verdict from before migration 18 reads back with none; a value a newer
    bot wrote reads as none (never an error); the summary's announced verdicts keep it too."""
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    added = next(n for n, script in enumerate(MIGRATIONS) if "ADD COLUMN strength" in script)
    for version, script in enumerate(MIGRATIONS[:added], start=1):  # the database as it was before it
        conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {version};\nCOMMIT;")
    conn.execute(
        "INSERT INTO verdicts (run_id, recipe, category, confidence, reason, kb_version, evidence_json, decided_at)"
        " VALUES ('760', 'outline', 'recipe-defect', 0.85, 'red again alone', 'kb-1', '[]', 0)"
    )
    conn.commit()
    conn.close()
    store = Store(path)
    try:
        old = store.verdicts.get("760")
        assert old is not None and old.verdict.strength is None and old.verdict.category is Category.RECIPE_DEFECT
        for n, strength in enumerate(Strength):
            verdict = Verdict(Category.UNKNOWN, 0.3, "fails every time", "kb-2", NextStep.FIND_CAUSE, "r", strength)
            store.verdicts.save(f"r{n}", "outline", verdict, "kb-2", [])
            back = store.verdicts.get(f"r{n}")
            assert back is not None and back.verdict == verdict
        with rawdb.writing(store) as c:
            c.execute("UPDATE verdicts SET strength = 'carved-in-stone' WHERE run_id = 'r0'")
        newer = store.verdicts.get("r0")
        assert newer is not None and newer.verdict.strength is None
        reports = store.reports
        told = Verdict(Category.UNKNOWN, 0.3, "", strength=Strength.NOTHING)
        assert reports.record("sweep:s1", ReportKind.SWEEP, sweep_id="s1", verdicts={"outline": told})
        assert reports.announced("sweep:s1")["outline"].strength is Strength.NOTHING
        reproduced = replace(told, strength=Strength.REPRODUCED)
        assert not reports.announce("sweep:s1", {"outline": told}, [])  # nothing new
        assert reports.announce("sweep:s1", {"outline": reproduced}, [])  # same category, rests on more now
        assert reports.announced("sweep:s1")["outline"].strength is Strength.REPRODUCED
    finally:
        store.close()
