"""The bot's memory: SQLite (standard library, WAL) under ``data_dir``, and the only place SQL is written.

:class:`Store` opens the file (:mod:`bot.store.database`: WAL, the lock, the schema check, migrations
and the backup taken before one) and holds one repository per aggregate; each owns the SQL of its
tables, and the rest of the bot only calls their typed methods:

============  ==============================================  ======================================
repository    tables                                          job
============  ==============================================  ======================================
ingest        runs, run_notes, bot_runs (writes)              what a scan compares and records
runs          runs (reads), run_total                         a recipe's history, by index
sweeps        runs (reads, by sweep)                          sweeps and their results
results       tiers, testcases, failures, evidence            what was read from a run's files
verdicts      verdicts                                        verdicts as decided, with evidence
canonicals    canonicals                                      each recipe's canonical version
meta          meta                                            small named values (sync token …)
chat          command_inbox, handled_events, outbox           commands in, messages out
reports       reports, report_runs, report_messages, …        what was posted, once
reruns        reruns                                          the rerun queue
undecrypted   undecrypted_events                              events to decrypt later
knowledge     failure_prints, known_links, hand_verdicts,     what the operators know about reds,
              mutes, knowledge_lapses, knowledge_audit        and who changed it when
============  ==============================================  ======================================
"""

from __future__ import annotations

from pathlib import Path

from bot.store.canonicals import CanonicalStore
from bot.store.chat import ChatStore
from bot.store.database import STORE_WRITE_ERRORS, Database
from bot.store.errors import StoreError, store_problem
from bot.store.ingest import IngestStore
from bot.store.knowledge import KnowledgeStore
from bot.store.meta import MetaStore
from bot.store.reports import ReportStore
from bot.store.reruns import RerunStore
from bot.store.results import ResultStore
from bot.store.runs import RunStore
from bot.store.sweeps import SweepStore
from bot.store.undecrypted import PendingDecrypts
from bot.store.verdicts import VerdictStore

__all__ = ["STORE_WRITE_ERRORS", "Store", "StoreError", "store_problem"]


class Store:
    """One store file and its repositories (see the table above); :class:`StoreError` when the file
    is not one this bot may use."""

    def __init__(self, path: Path) -> None:
        db = Database(path)
        self._db = db
        self.path = path
        self.schema_version = db.schema_version
        self.meta = MetaStore(db)
        self.runs = RunStore(db)
        self.sweeps = SweepStore(db)
        self.results = ResultStore(db, self.runs)
        self.verdicts = VerdictStore(db)
        self.canonicals = CanonicalStore(db)
        self.ingest = IngestStore(db, self.meta, self.sweeps)
        self.chat = ChatStore(db)
        self.reports = ReportStore(db)
        self.reruns = RerunStore(db)
        self.undecrypted = PendingDecrypts(db)
        self.knowledge = KnowledgeStore(db)

    def close(self) -> None:
        self._db.close()

    def counts(self) -> dict[str, int]:
        """Rows per table of what an ingest writes (``runs`` counted row by row, not run_total's row)."""
        return {"runs": self.runs.count_rows(), **self.results.counts(), "canonicals": self.canonicals.count()}
