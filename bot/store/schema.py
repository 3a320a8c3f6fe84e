"""Schema migrations, applied in order; ``PRAGMA user_version`` records how far a database got.

Append a migration to change the schema; never edit one that has shipped.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from bot.store.errors import RESTORE_HINT, StoreError

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
    # 6: how a rerun ended (bot.model.reruns.RerunResult), stored when it ends: the metrics' label
    # and the CLI's JSON read it instead of the words the operator was told.
    """
    ALTER TABLE reruns ADD COLUMN result TEXT;
    """,
    # 7: hostile run dirs. run_notes: dirs the bot refused (control characters in a name), with their
    # fingerprint so an unchanged one is not read again. runs.retired_at: when the run's dir was found
    # gone; the row stays (it is history) but its files are no longer offered. Rows with absurd times
    # or names with non-printable characters are read again.
    """
    CREATE TABLE run_notes (
        run_id TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        note TEXT NOT NULL,
        noted_at REAL NOT NULL
    );
    ALTER TABLE runs ADD COLUMN retired_at REAL;
    UPDATE runs SET fingerprint = ''
        WHERE finished IS NOT NULL AND (finished < 946684800 OR finished >= 4102444800)
           OR started IS NOT NULL AND (started < 946684800 OR started >= 4102444800)
           OR run_id GLOB '*[^ -~]*' OR recipe GLOB '*[^ -~]*' OR version GLOB '*[^ -~]*';
    UPDATE runs SET finished = NULL WHERE finished < 946684800 OR finished >= 4102444800;
    UPDATE runs SET started = NULL WHERE started < 946684800 OR started >= 4102444800;
    """,
    # 8: verdicts say what would settle them (an enum the chat/CLI turn into a command); reasons stored by
    # older versions lose the chat command they carried, which becomes that field.
    """
    ALTER TABLE verdicts ADD COLUMN settle TEXT;
    UPDATE verdicts
       SET settle = 'isolation-rerun',
           reason = replace(
               reason,
               'run `!ccci rerun ' || recipe || '` to tell a flake from a deterministic failure',
               'an isolation rerun would tell a flake from a deterministic failure')
     WHERE instr(reason, 'run `!ccci rerun ' || recipe || '` to tell') > 0;
    """,
    # 9: the command inbox. A command is recorded here before the sync token moves past it, then
    # handled as its own task; answering moves it to handled_events in the transaction that queues
    # the answer. What is left here after a restart is resumed. `acked`: its 👀 was queued already.
    # `encrypted`, `sender_key_known`: how it arrived (acting commands need a known device key).
    """
    CREATE TABLE command_inbox (
        event_id TEXT PRIMARY KEY,
        room_id TEXT NOT NULL,
        sender TEXT NOT NULL,
        body TEXT NOT NULL,
        thread_root TEXT,
        ts_ms INTEGER NOT NULL,
        msgtype TEXT NOT NULL,
        encrypted INTEGER NOT NULL,
        sender_key_known INTEGER NOT NULL,
        recorded_at REAL NOT NULL,
        acked INTEGER NOT NULL DEFAULT 0
    );
    """,
    # 10: answers that stay flat in history: a recipe's last run of a kind, a version's runs of a kind
    # and the runs that pass a test are found by index with a LIMIT instead of by reading a recipe's
    # history.
    # ``finished IS NULL`` leads the run order (an unfinished run counts as the newest), so it is
    # part of the index; testcases by run and name answer "did this run pass that test" in one probe.
    """
    CREATE INDEX runs_by_recipe_kind ON runs(recipe, kind, finished IS NULL, finished, run_id);
    CREATE INDEX runs_by_recipe_kind_version ON runs(recipe, kind, version, finished IS NULL, finished, run_id);
    CREATE INDEX runs_by_recipe_order ON runs(recipe, finished IS NULL, finished, run_id);
    CREATE INDEX testcases_by_run_name ON testcases(run_id, tier, name);
    """,
    # 11: how many runs are known, kept by triggers, so /healthz, `status` and the metrics read one row
    # instead of counting the table (the store turns on recursive_triggers: a REPLACE counts as well).
    """
    CREATE TABLE run_total (n INTEGER NOT NULL);
    INSERT INTO run_total (n) SELECT COUNT(*) FROM runs;
    CREATE TRIGGER runs_counted_in AFTER INSERT ON runs BEGIN UPDATE run_total SET n = n + 1; END;
    CREATE TRIGGER runs_counted_out AFTER DELETE ON runs BEGIN UPDATE run_total SET n = n - 1; END;
    """,
    # 12: sealed runs (bot.artifacts.seal): a settled run's cheap signature, checked instead of its
    # full fingerprint on every scan. NULL: not sealed yet (a migration that must force re-reads
    # clears it along with the fingerprint).
    """
    ALTER TABLE runs ADD COLUMN seal TEXT;
    """,
    # 13: what a scan loads, read from indexes instead of the rows: the seal column was added after
    # raw_json, so reading it from the table walks every row's JSON (most of a no-change scan's
    # SQLite time). Sealed runs by recipe (a scan before an answer checks those it reads), and the
    # few unsealed ones; retired runs (their dir is gone) are not scanned. retired_at is a column too:
    # SQLite counts an index as covering only if it holds every column the query names, and without
    # ANALYZE it prefers runs_by_recipe (and the rows) to an index that is not covering.
    """
    CREATE INDEX runs_sealed ON runs(recipe, run_id, seal, retired_at) WHERE seal IS NOT NULL AND retired_at IS NULL;
    CREATE INDEX runs_unsealed ON runs(run_id, retired_at) WHERE seal IS NULL AND retired_at IS NULL;
    """,
    # 14: where a red streak ends: the newest run of a recipe and kind with a given status is one seek,
    # not a walk back over a streak of thousands of red runs reading each row's status.
    """
    CREATE INDEX runs_by_recipe_kind_status ON runs(recipe, kind, status, finished IS NULL, finished, run_id);
    """,
    # 15: the latest sweep is one step along an index, not a sort of every sweep run (~160 ms at 50,000).
    """
    CREATE INDEX runs_latest_sweep ON runs(finished, sweep_id) WHERE kind = 'sweep' AND sweep_id IS NOT NULL;
    """,
    # 16: encrypted events the bot could not decrypt yet (their room key had not arrived), retried after
    # every sync until they decrypt or the bot gives up on them (bot.runtime.undecryptable). They were a
    # JSON object in meta ('e2ee.undecrypted': event id → room_id, sender, ts_ms, source, seen); its
    # well-formed entries move here in the order they were kept, anything else in it is dropped.
    """
    CREATE TABLE undecrypted_events (
        event_id TEXT PRIMARY KEY,
        room_id TEXT NOT NULL,
        sender TEXT NOT NULL,
        ts_ms INTEGER NOT NULL,
        source_json TEXT NOT NULL,
        seen_at REAL NOT NULL
    );
    INSERT OR IGNORE INTO undecrypted_events (event_id, room_id, sender, ts_ms, source_json, seen_at)
        SELECT kept.key, json_extract(kept.value, '$.room_id'), json_extract(kept.value, '$.sender'),
               json_extract(kept.value, '$.ts_ms'), json_extract(kept.value, '$.source'),
               json_extract(kept.value, '$.seen')
          FROM meta, json_each(meta.value) AS kept
         WHERE meta.key = 'e2ee.undecrypted' AND json_valid(meta.value) AND json_type(meta.value) = 'object'
           AND json_type(kept.value, '$.room_id') = 'text' AND json_type(kept.value, '$.sender') = 'text'
           AND json_type(kept.value, '$.ts_ms') = 'integer' AND json_type(kept.value, '$.source') = 'object'
           AND json_type(kept.value, '$.seen') IN ('integer', 'real')
         ORDER BY kept.id;
    DELETE FROM meta WHERE key = 'e2ee.undecrypted';
    """,
    # 17: which engine rule decided a verdict (bot.verdicts.engine.RULES), so it can be reported per rule.
    # NULL for verdicts decided before; the engine's revision changed with it, so current ones are decided again.
    """
    ALTER TABLE verdicts ADD COLUMN rule TEXT;
    """,
    # 18: what a verdict rests on (bot.model.records.Strength), set by the rule that decided it; and the same
    # for the verdicts a summary announced, so a rerun that changes what a verdict rests on (now reproduced
    # alone) is told even when its category stays. NULL before; the engine's revision changed with it.
    """
    ALTER TABLE verdicts ADD COLUMN strength TEXT;
    ALTER TABLE report_verdicts ADD COLUMN strength TEXT;
    """,
    # 19: what the operators know (bot.store.knowledge): each red run's failure fingerprint, issue links,
    # verdicts given by hand and mutes (all against a recipe and a fingerprint), lapses (a later red failed
    # differently), and the audit trail of every change.
    """
    CREATE TABLE failure_prints (
        run_id TEXT PRIMARY KEY,
        recipe TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        shape TEXT NOT NULL
    );
    CREATE INDEX failure_prints_by_print ON failure_prints(recipe, fingerprint);
    CREATE TABLE known_links (
        id INTEGER PRIMARY KEY,
        recipe TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        shape TEXT NOT NULL,
        url TEXT NOT NULL,
        note TEXT NOT NULL,
        who TEXT NOT NULL,
        at REAL NOT NULL,
        run_id TEXT,
        UNIQUE (recipe, fingerprint, url)
    );
    CREATE TABLE hand_verdicts (
        recipe TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        shape TEXT NOT NULL,
        category TEXT NOT NULL,
        reason TEXT NOT NULL,
        who TEXT NOT NULL,
        at REAL NOT NULL,
        run_id TEXT,
        PRIMARY KEY (recipe, fingerprint)
    );
    CREATE TABLE mutes (
        recipe TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        shape TEXT NOT NULL,
        until REAL NOT NULL,
        reason TEXT NOT NULL,
        who TEXT NOT NULL,
        at REAL NOT NULL,
        run_id TEXT
    );
    CREATE TABLE knowledge_lapses (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        recipe TEXT NOT NULL,
        was TEXT NOT NULL,
        now TEXT NOT NULL,
        shape TEXT NOT NULL,
        run_id TEXT NOT NULL,
        at REAL NOT NULL,
        told_at REAL,
        UNIQUE (kind, recipe, was, now)
    );
    CREATE TABLE knowledge_audit (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        who TEXT NOT NULL,
        action TEXT NOT NULL,
        recipe TEXT NOT NULL,
        fingerprint TEXT,
        detail_json TEXT NOT NULL
    );
    CREATE INDEX knowledge_audit_by_recipe ON knowledge_audit(recipe, id);
    """,
)


def schema_version(conn: sqlite3.Connection) -> int:
    """How far this database got (0: new or empty); :class:`StoreError` when it is a version this code
    does not know (a newer bot's store)."""
    return _version(conn)


def migrate(conn: sqlite3.Connection, before: Callable[[int], object] | None = None) -> int:
    """Bring the database to the latest version; return that version.

    Several processes may open a new data dir at once (the bot, a CLI, ``ccci-bot web``): each migration
    runs in a ``BEGIN IMMEDIATE`` transaction that reads the version again once it holds the write lock,
    so the second process waits (busy timeout) and then finds the work done instead of repeating it.

    ``before(current)`` runs first when an existing database (version ≥ 1) is about to change: the
    store takes its backup there (two processes starting at once may both take one; harmless).
    """
    version = _version(conn)
    if 0 < version < len(MIGRATIONS) and before is not None:
        before(version)
    while version < len(MIGRATIONS):
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = _version(conn)  # another process may have migrated while we waited for the lock
            if version < len(MIGRATIONS):
                for statement in statements(MIGRATIONS[version]):
                    conn.execute(statement)
                version += 1
                conn.execute(f"PRAGMA user_version = {version}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return version


def _version(conn: sqlite3.Connection) -> int:
    current = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if current > len(MIGRATIONS):
        raise StoreError(
            f"its schema version {current} is newer than this bot knows ({len(MIGRATIONS)}): "
            "upgrade ccci-bot, or point data_dir at this version's store"
        )
    if current < 0:
        raise StoreError(f"its schema version {current} is not one any ccci-bot wrote; {RESTORE_HINT}")
    return current


def statements(script: str) -> list[str]:
    """A migration script split into complete statements (``executescript`` would commit first)."""
    out: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            out.append(current.strip())
            current = ""
    if current.strip():
        out.append(current.strip())
    return [s for s in out if s]
