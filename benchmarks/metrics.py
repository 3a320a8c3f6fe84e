"""Metrics scrape benchmark: what ``GET /metrics`` costs on a big store.

    .venv/bin/python benchmarks/metrics.py [runs] [recipes]

Fills a store with synthetic runs (default 30,000 over 200 recipes: sweep, isolation and PR runs,
a third of them red with a stored verdict), then times ``Metrics.render()`` (best of 5), which picks
every recipe's status run with ``bot.store.status_run.status_runs`` (the rule ``why`` uses). For comparison
it also times reading every recipe's runs and applying ``target_run`` to each, the naive way to use
the same rule.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from bot.model.records import Category, ParsedRun, RunKind, RunStatus, Verdict
from bot.store import Store
from bot.store.status_run import status_runs, target_run
from bot.web.metrics import Metrics

CATEGORIES = list(Category)


def fill(store: Store, runs: int, recipes: int) -> None:
    parsed, kinds = [], {}
    for i in range(runs):
        recipe = f"recipe-{i % recipes:03d}"
        status = RunStatus.RED if i % 3 == 0 else RunStatus.GREEN
        run_id = f"run-{i:06d}"
        parsed.append(
            ParsedRun(
                run_id,
                recipe,
                "1.0.0",
                None,
                None,
                1000.0 + i,
                1010.0 + i,
                [],
                [],
                [],
                status,
                False,
                False,
                f"/runs/{run_id}",
                "f",
            )
        )
        kind = (RunKind.SWEEP, RunKind.SWEEP, RunKind.ISOLATION, RunKind.PR)[i % 4]
        kinds[run_id] = (kind, f"sweep-{i // recipes:05d}" if kind is RunKind.SWEEP else None)
    store.ingest.save_runs(parsed)
    store.ingest.set_kinds(kinds)
    for i, run in enumerate(parsed):
        if run.status is RunStatus.RED:
            store.verdicts.save(run.run_id, run.recipe, Verdict(CATEGORIES[i % len(CATEGORIES)], 0.9, "r"), "kb", [])


def best_of(fn: object, times: int = 5) -> float:
    best = float("inf")
    for _ in range(times):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 30_000
    recipes = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "db.sqlite3")
        fill(store, runs, recipes)
        metrics = Metrics(store)
        scrape = best_of(metrics.render)
        picked = best_of(lambda: status_runs(store.runs))
        naive = best_of(lambda: [target_run(store.runs.runs_of(r)) for r in store.runs.recipes()])
        assert status_runs(store.runs) == {
            r: t for r in store.runs.recipes() if (t := target_run(store.runs.runs_of(r))) is not None
        }
        store.close()
    print(f"{runs} runs, {recipes} recipes")
    print(f"GET /metrics body (Metrics.render): {scrape * 1000:.1f} ms")
    print(f"  every recipe's status run, status_runs (each kind's last run): {picked * 1000:.1f} ms")
    print(f"  the same by reading every run of every recipe (runs_of + target_run): {naive * 1000:.1f} ms")


if __name__ == "__main__":
    main()
