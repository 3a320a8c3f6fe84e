"""Schema migrations, applied in order; ``PRAGMA user_version`` records how far a database got.

Append a migration to change the schema; never edit one that has shipped.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: tuple[str, ...] = (
    # 1: runs and what was read from them
    """
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        recipe TEXT NOT NULL,
        version TEXT,
        pr TEXT,
        ref TEXT,
        started REAL,
        finished REAL,
        status TEXT NOT NULL,
        unverified INTEGER NOT NULL,
        derived INTEGER NOT NULL,
        kind TEXT NOT NULL DEFAULT 'sweep',
        sweep_id TEXT,
        fingerprint TEXT NOT NULL,
        directory TEXT NOT NULL,
        raw_json TEXT NOT NULL,
        ingested_at REAL NOT NULL
    );
    CREATE INDEX runs_by_recipe ON runs(recipe, finished);
    CREATE INDEX runs_by_sweep ON runs(sweep_id);
    CREATE TABLE tiers (
        run_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        PRIMARY KEY (run_id, position)
    );
    CREATE TABLE testcases (
        run_id TEXT NOT NULL,
        tier TEXT NOT NULL,
        source TEXT NOT NULL,
        name TEXT NOT NULL,
        classname TEXT NOT NULL,
        status TEXT NOT NULL,
        ms INTEGER NOT NULL,
        junit_file TEXT NOT NULL
    );
    CREATE INDEX testcases_by_run ON testcases(run_id);
    CREATE INDEX testcases_by_name ON testcases(tier, name, status);
    CREATE TABLE failures (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        tier TEXT NOT NULL,
        source TEXT NOT NULL,
        test TEXT NOT NULL,
        message TEXT NOT NULL,
        text TEXT NOT NULL,
        junit_file TEXT NOT NULL
    );
    CREATE INDEX failures_by_run ON failures(run_id);
    CREATE TABLE evidence (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        path TEXT NOT NULL,
        line INTEGER,
        excerpt TEXT NOT NULL
    );
    CREATE INDEX evidence_by_run ON evidence(run_id);
    CREATE TABLE canonicals (
        recipe TEXT PRIMARY KEY,
        version TEXT NOT NULL,
        commit_id TEXT,
        status TEXT,
        ts REAL
    );
    CREATE TABLE bot_runs (
        run_id TEXT PRIMARY KEY,
        requested_at REAL NOT NULL
    );
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # 2: verdicts; failures say whether they were an assertion (fail) or a setup/teardown error.
    # Emptying the fingerprints makes the next ingest re-read every run to fill the new column.
    """
    ALTER TABLE failures ADD COLUMN status TEXT NOT NULL DEFAULT 'fail';
    UPDATE runs SET fingerprint = '';
    CREATE TABLE verdicts (
        run_id TEXT PRIMARY KEY,
        recipe TEXT NOT NULL,
        category TEXT NOT NULL,
        confidence REAL NOT NULL,
        reason TEXT NOT NULL,
        kb_version TEXT NOT NULL,
        evidence_json TEXT NOT NULL,
        decided_at REAL NOT NULL
    );
    CREATE INDEX verdicts_by_recipe ON verdicts(recipe);
    """,
    # 3: chat: every message goes through the outbox before it is sent (stable txn id: exactly once),
    # and every command event handled is remembered (answered once across restarts).
    """
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        txn_id TEXT NOT NULL UNIQUE,
        room_id TEXT NOT NULL,
        event_type TEXT NOT NULL,
        content_json TEXT NOT NULL,
        created_at REAL NOT NULL,
        sent_at REAL,
        event_id TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT
    );
    CREATE INDEX outbox_pending ON outbox(sent_at, id);
    CREATE TABLE handled_events (
        event_id TEXT PRIMARY KEY,
        room_id TEXT NOT NULL,
        sender TEXT NOT NULL,
        command TEXT NOT NULL,
        handled_at REAL NOT NULL
    );
    """,
    # 4: isolation reruns: the queue and the one in flight survive a restart.
    """
    CREATE TABLE reruns (
        id INTEGER PRIMARY KEY,
        recipe TEXT NOT NULL,
        version TEXT NOT NULL,
        times INTEGER NOT NULL,
        requested_by TEXT NOT NULL,
        room_id TEXT,
        event_id TEXT,
        state TEXT NOT NULL,
        created_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        attempts_json TEXT NOT NULL DEFAULT '[]',
        message TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX reruns_by_state ON reruns(state, id);
    """,
    # 5: reports: each sweep summary and each scheduled slot is recorded in the transaction that
    # queues its messages (posted once, across restarts); which runs a summary covered (a re-written
    # run never makes a second one); its messages (to edit them); the verdicts it last announced.
    """
    CREATE TABLE reports (
        key TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        sweep_id TEXT,
        slot REAL,
        late INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        reruns_queued INTEGER NOT NULL DEFAULT 0,
        body_json TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX reports_by_kind ON reports(kind, created_at);
    CREATE TABLE report_runs (
        run_id TEXT PRIMARY KEY,
        report_key TEXT NOT NULL
    );
    CREATE TABLE report_messages (
        report_key TEXT NOT NULL,
        room_id TEXT NOT NULL,
        role TEXT NOT NULL,
        txn_id TEXT NOT NULL,
        PRIMARY KEY (report_key, room_id, role)
    );
    CREATE TABLE report_verdicts (
        report_key TEXT NOT NULL,
        recipe TEXT NOT NULL,
        category TEXT NOT NULL,
        confidence REAL NOT NULL,
        PRIMARY KEY (report_key, recipe)
    );
    """,
    # 6: how a rerun ended (bot.reruns.states.RerunResult), stored when it ends: the metrics' label
    # and the CLI's JSON read it instead of the words the operator was told.
    """
    ALTER TABLE reruns ADD COLUMN result TEXT;
    """,
)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to the latest version; return that version."""
    current = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if current > len(MIGRATIONS):
        raise RuntimeError(
            f"database schema version {current} is newer than this bot knows ({len(MIGRATIONS)}); upgrade the bot"
        )
    for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
        conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {version};\nCOMMIT;")
    return len(MIGRATIONS)
