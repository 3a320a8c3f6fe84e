"""What the operators' memory costs an ingest: 0 against 1,000 known issues, at 50,000 runs.

A runs dir of ``--runs`` run dirs (50,000) is built from generated templates as in ``ingest.py`` (run
dirs the sample generator made by really running pytest, copied under new ids and times); its last
sweep (one run per recipe) is held back. The rest is ingested once into a base database (untimed).
Each round, for each case in turn (the order alternates, so a drift in the shared machine's speed
moves both alike), a copy of the base database gets:

* ``0 known``: nothing recorded;
* ``1000 known``: a link and a hand verdict for each of 1,000 distinct (recipe, fingerprint) pairs,
  recorded directly through ``store.knowledge`` (the red runs' real fingerprints among them, so some
  apply to the new sweep and the rest are links to failures of the past);

then the held-back sweep is put in and ingested the way ``Service.ingest`` does it (scan, decide the
affected recipes' verdicts again, ``remember``: fingerprints and lapses), timed; then a no-change
re-ingest (the same three steps, nothing new), timed. Median [min–max] over ``--rounds`` rounds, in
wall-clock seconds and in CPU seconds (this process and its reaped children: on a shared, loaded machine
the CPU figure moves far less with the neighbours than the wall clock does).

    .venv/bin/python benchmarks/memory.py [--runs 50000] [--known 1000] [--rounds 5] [--work DIR]

The machine is shared: its load is printed first and last.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from ingest import RECIPES, build_history
from measure import spread

from bot.config import Config, LinksConfig
from bot.ingest.scan import ingest
from bot.kb import load_kb
from bot.memory.recall import current_fingerprint, remember
from bot.model.knowledge import Fingerprint
from bot.model.records import Category, RunStatus
from bot.store import Store
from bot.store.status_run import status_run
from bot.verdicts.cache import Verdicts
from bot.verdicts.staletest import GitRecipeSearch
from demo.sample.generate import generate


def load() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def cpu() -> float:
    """CPU seconds used so far by this process and the ingest workers it has reaped."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def bot_ingest(store: Store, config: Config, verdicts: Verdicts, now: float) -> int:
    """What ``Service.ingest`` does (``now`` past every run's quiet time, so each is sealed when read)."""
    report = ingest(store, config, now=now)
    if report.affected:
        verdicts.decide_again(report.affected)
    remember(store, now, runs_changed=bool(report.affected or report.retired))
    return len(report.ingested)


def record_known(store: Store, n: int, at: float) -> int:
    """A link and a hand verdict for n distinct (recipe, fingerprint) pairs: the current reds' real ones
    (recorded last, so they are each recipe's newest) and failures of the past."""
    current = [status_run(store.runs, recipe) for recipe in RECIPES]
    real = [(r.recipe, current_fingerprint(store, r)) for r in current if r is not None and r.status is RunStatus.RED]
    pairs = real[:n]
    i = 0
    while len(pairs) < n:
        pairs.insert(0, (RECIPES[i % len(RECIPES)], Fingerprint("install", f"test_gone_{i}", f"old failure {i}")))
        i += 1
    for j, (recipe, fp) in enumerate(pairs):
        store.knowledge.link(recipe, fp, f"https://tracker.example/issues/{j}", "known", "bench", None, at + j)
        store.knowledge.set_verdict(recipe, fp, Category.STALE_TEST, "known", "bench", None, at + j)
    assert len({(recipe, fp.key) for recipe, fp in pairs}) == n
    return len(pairs)


def run_id(i: int) -> str:
    """The id ``build_history`` gives its i-th run dir."""
    return f"{100000 + i}" if i % 3 else f"ab-{i:05x}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50_000)
    parser.add_argument("--known", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="ccci-memory-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"load average at start: {load()} on {os.cpu_count()} cores", flush=True)
    try:
        sample = generate(work / "sample")
        templates = [p for p in sorted(sample.runs_dir.iterdir()) if (p / "results.json").exists()]
        runs_dir, held = work / "runs", work / "held"
        t = time.perf_counter()
        build_history(templates, runs_dir, args.runs)
        held.mkdir()
        sweep = [runs_dir / run_id(i) for i in range(args.runs - len(RECIPES), args.runs)]  # its newest sweep
        for p in sweep:
            p.rename(held / p.name)
        print(f"{args.runs} run dirs built in {time.perf_counter() - t:.0f} s; {len(sweep)} held back", flush=True)
        links = LinksConfig("https://ci.example/runs/{run_id}/{path}")
        later = time.time() + 3600  # every run has settled: it is sealed when read
        base = Config(data_dir=work / "base", links=links).with_overrides(runs_dir=runs_dir, warm_dir=sample.warm_dir)
        kb = load_kb(base.knowledge.dirs)
        store = Store(base.db_path)
        t = time.perf_counter()
        bot_ingest(store, base, Verdicts(store, base, kb, GitRecipeSearch()), later)
        store.close()
        print(f"base ingest of {args.runs - len(sweep)} runs: {time.perf_counter() - t:.0f} s", flush=True)

        cases = (0, args.known)
        new: dict[int, list[float]] = {c: [] for c in cases}
        again: dict[int, list[float]] = {c: [] for c in cases}
        new_cpu: dict[int, list[float]] = {c: [] for c in cases}
        again_cpu: dict[int, list[float]] = {c: [] for c in cases}
        for n in range(args.rounds):
            for known in cases if n % 2 == 0 else cases[::-1]:
                data = work / f"state-{n}-{known}"
                config = Config(data_dir=data, links=links).with_overrides(runs_dir=runs_dir, warm_dir=sample.warm_dir)
                data.mkdir()
                shutil.copy(base.db_path, config.db_path)
                store = Store(config.db_path)
                assert record_known(store, known, later - 86400) == known
                verdicts = Verdicts(store, config, kb, GitRecipeSearch())
                for p in sweep:
                    (held / p.name).rename(p)
                os.sync()
                t, c = time.perf_counter(), cpu()
                ingested = bot_ingest(store, config, verdicts, later)
                new[known].append(time.perf_counter() - t)
                new_cpu[known].append(cpu() - c)
                assert ingested == len(sweep), ingested
                t, c = time.perf_counter(), cpu()
                assert bot_ingest(store, config, verdicts, later) == 0
                again[known].append(time.perf_counter() - t)
                again_cpu[known].append(cpu() - c)
                for p in sweep:
                    p.rename(held / p.name)
                store.close()
                shutil.rmtree(data)
        print(f"load average at end: {load()}")
        print()
        print(f"median [min–max] of {args.rounds} rounds, {args.runs:,} runs, seconds")
        for label, figures in (
            (f"ingest of a new sweep ({len(sweep)} runs)", new),
            (f"ingest of a new sweep ({len(sweep)} runs), CPU", new_cpu),
            ("re-ingest, nothing new", again),
            ("re-ingest, nothing new, CPU", again_cpu),
        ):
            zero, many = figures[0], figures[args.known]
            diff = statistics.median(many) - statistics.median(zero)
            print(f"{label + ', 0 known:':<50} {spread(zero)}")
            print(f"{label + f', {args.known} known:':<50} {spread(many)}")
            print(f"{label + ', difference of medians:':<50} {diff * 1000:+8.0f} ms")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
