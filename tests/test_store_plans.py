"""How SQLite plans the queries an answer runs: none may sort the run history or walk it whole.

The figures in benchmarks/README.md (``/api/why`` flat from 1,000 to 50,000 runs) rest on every query an
answer makes being an index seek or a walk in the index's order. One ``ORDER BY`` term the planner cannot
match with the index turns a seek into a sort of the recipe's whole history (a temp b-tree): 7.5 ms
instead of 0.07 ms for one recipe at 50,000 runs, invisible on the sample world's few runs, so it is
checked here by plan, not by time. An index walked in its order under a LIMIT is a seek; tables that grow
with what people do rather than with cc-ci's runs (hand verdicts, links, mutes, the reruns asked for — by an
operator, or at most ``reports.auto_rerun_max`` a sweep) stay small and may be scanned or sorted.
"""

from __future__ import annotations

import asyncio
import sqlite3

from bot.service import Service
from tests import rawdb
from tests.conftest import Site

OPERATOR_TABLES = ("hand_verdicts", "known_links", "mutes", "knowledge_audit", "knowledge_lapses", "reruns")
BOUNDED = ("FROM runs WHERE sweep_id = ",)  # one sweep's runs: one per enrolled recipe, however long the history


def _plan(conn: sqlite3.Connection, sql: str) -> list[str]:
    return [str(row[3]) for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}")]


def test_no_query_an_answer_runs_sorts_or_scans_the_run_history(site: Site) -> None:
    service = Service(site.config)
    asyncio.run(service.ingest())
    recipes = asyncio.run(service.recipes())
    with rawdb.statements(service.store) as seen:
        for recipe in recipes:
            asyncio.run(service.why(recipe))
            asyncio.run(service.history(recipe, 10))
        asyncio.run(service.summary())
    service.close()
    selects = {sql for sql in seen if sql.lstrip().upper().startswith("SELECT")}
    assert len(selects) > 20  # the answers above really ran their queries
    bad = {}
    with sqlite3.connect(site.config.db_path) as conn:
        for sql in sorted(selects):
            plan = _plan(conn, sql)
            slow = [p for p in plan if "TEMP B-TREE" in p or (p.startswith("SCAN ") and " INDEX " not in p)]
            if slow and not any(f" {table}" in sql for table in OPERATOR_TABLES) and not any(b in sql for b in BOUNDED):
                bad[sql] = slow
    assert not bad, bad
