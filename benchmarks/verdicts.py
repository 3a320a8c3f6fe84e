"""Verdict benchmark: accuracy on the sample data per category, and the time to classify a sweep
of 20 red recipes whose logs are 100 MB each.

    .venv/bin/python benchmarks/verdicts.py [--recipes 20] [--log-mb 100]

Accuracy compares each red recipe's verdict with the category its scenario was built to show (the
generator's intent; the classifier only sees the artifacts). The big sweep copies the generator's red
runs under 20 recipe names (recipe clones included, so the stale-test search runs git for real) and
pads each log to the given size with harness noise before the real log.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

from bot.artifacts.timefmt import iso
from bot.config import Config
from bot.ingest import ingest
from bot.kb import load_kb
from bot.scaffold.sample.generate import GeneratedData, generate
from bot.store import Store
from bot.verdicts.classify import Verdicts
from bot.verdicts.staletest import GitRecipeSearch


def accuracy(sample: GeneratedData, work: Path) -> None:
    config = Config(data_dir=work / "acc-state").with_overrides(runs_dir=sample.runs_dir, warm_dir=sample.warm_dir)
    store = Store(config.db_path)
    ingest(store, config)
    verdicts = Verdicts(store, config, load_kb(), GitRecipeSearch())
    got = {c.recipe: c.verdict for c in verdicts.classify()}
    last = max(r.sweep for r in sample.runs if r.sweep is not None)
    expected = {r.recipe: r.expected_category for r in sample.runs if r.sweep == last and r.red}
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    print("verdict accuracy on the sample's latest sweep (expected = the scenario's intent):")
    for recipe, category in sorted(expected.items()):
        verdict = got.get(recipe)
        total[str(category)] += 1
        ok = verdict is not None and verdict.category == category
        right[str(category)] += ok
        shown = f"{verdict.category} {verdict.confidence:.2f}" if verdict else "none"
        print(f"  {recipe:<16} expected {category!s:<16} got {shown:<22} {'ok' if ok else 'WRONG'}")
    for category in sorted(total):
        print(f"  {category:<16} {right[category]}/{total[category]}")
    print(f"  overall          {sum(right.values())}/{sum(total.values())}")
    store.close()


def big_sweep(sample: GeneratedData, work: Path, recipes: int, log_mb: int) -> None:
    reds = [r for r in sample.runs if r.red and r.has_results and r.kind == "sweep"]
    runs_dir = work / "runs"
    runs_dir.mkdir()
    t0 = 1_760_000_000.0
    filler = b"".join(
        b"2026-11-22T03:%02d:%02dZ INFO harness: waiting for convergence (task %d)\n" % (i % 60, i % 60, i)
        for i in range(4000)
    )
    names = []
    for i in range(recipes):
        source = reds[i % len(reds)]
        name = f"{source.recipe}-{i:02d}"
        names.append(name)
        target = runs_dir / f"big-{i:02d}"
        shutil.copytree(sample.run_dir(source.run_id), target, symlinks=True)
        clone = target / "abra" / "recipes"
        if (clone / source.recipe).exists():
            (clone / source.recipe).rename(clone / name)
        data = json.loads((target / "results.json").read_text())
        data.update(recipe=name, run_id=target.name, started=iso(t0 + i * 30), finished=iso(t0 + 1800 + i * 30))
        (target / "results.json").write_text(json.dumps(data))
        real = (target / "run.log").read_bytes()
        with (target / "run.log").open("wb") as out:
            written = 0
            while written < log_mb * 1024 * 1024 - len(real):
                out.write(filler)
                written += len(filler)
            out.write(real)
    config = Config(data_dir=work / "big-state").with_overrides(runs_dir=runs_dir, warm_dir=work / "no-warm")
    store = Store(config.db_path)
    start = time.perf_counter()
    report = ingest(store, config, now=t0 + 10**7)
    ingest_s = time.perf_counter() - start
    assert len(report.ingested) == recipes, report.problems
    verdicts = Verdicts(store, config, load_kb(), GitRecipeSearch())
    start = time.perf_counter()
    done = verdicts.classify(names)
    classify_s = time.perf_counter() - start
    assert len(done) == recipes
    print(f"\nsweep of {recipes} red recipes, {log_mb} MB log each ({recipes * log_mb / 1024:.1f} GiB of logs):")
    print(f"  ingest (JUnit, evidence scan of every log):  {ingest_s:6.2f} s")
    print(
        f"  classify all {recipes} (signature scan of every log, git stale-test search, engine): {classify_s:6.2f} s"
        f" = {classify_s / recipes * 1000:.0f} ms per recipe"
    )
    print(f"  verdicts: {dict(Counter(c.verdict.category for c in done))}")
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipes", type=int, default=20)
    parser.add_argument("--log-mb", type=int, default=100)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ccci-verdicts-"))
    try:
        sample = generate(work / "sample")
        accuracy(sample, work)
        big_sweep(sample, work, args.recipes, args.log_mb)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
