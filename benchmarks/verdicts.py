"""Verdict benchmark: calibration of the engine's confidences on a labelled set this script builds,
a self-consistency check on the sample world, and the time to classify a sweep of 20 red recipes whose
logs are 100 MB each.

    .venv/bin/python benchmarks/verdicts.py [--cases 3000] [--seed 13] [--recipes 20] [--log-mb 100]
    .venv/bin/python benchmarks/verdicts.py --calibration-only

Calibration: a labelled set of red runs is drawn from a stated model of how each true cause shows
(below, ``_draw``): the failure text (real knowledge-base examples and captured tool output, matched
by the real knowledge base), whether an isolation rerun exists and what it shows, a canonical after the
red, stale-test facts, harness errors. The engine decides each; the Brier score of its confidence
against "the category was right" and a reliability table per category say whether the numbers in
bot/verdicts/confidence.py mean what they claim — under that model, which is an assumption, not cc-ci's
history. The sample world's own cases are a self-consistency check (its scenarios were written together
with the rules), never a measure of accuracy. The big sweep copies the generator's red
runs under 20 recipe names (recipe clones included, so the stale-test search runs git for real) and
pads each log to the given size with harness noise before the real log.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bot.artifacts.layout import Layout
from bot.artifacts.timefmt import iso
from bot.config import CcciConfig, Config
from bot.ingest.scan import ingest
from bot.kb import KnowledgeBase, load_kb
from bot.model.records import (
    Canonical,
    Category,
    EvidenceItem,
    EvidenceKind,
    Failure,
    RunKind,
    RunRow,
    RunStatus,
    TestStatus,
    TierResult,
)
from bot.store import Store
from bot.verdicts import confidence
from bot.verdicts.cache import Verdicts
from bot.verdicts.engine import decide
from bot.verdicts.records import Facts, RerunFact, SignatureHit
from bot.verdicts.staletest import GitRecipeSearch, Presence, StaleFinding
from demo.sample.generate import GeneratedData, generate

TOOL_OUTPUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "tool-output"
CAUSES = tuple(c for c in Category if c is not Category.UNKNOWN)
LAYOUT = Layout.of(CcciConfig())  # cc-ci's default file names
NEUTRAL = ("AssertionError: assert 'failed' == 'complete'", "AssertionError: assert 3 == 4", "KeyError: 'id'")


@dataclass(frozen=True)
class _Case:
    truth: str
    facts: Facts


@cache
def _kb() -> KnowledgeBase:
    return load_kb()


def _texts_by_category() -> dict[str, list[str]]:
    """Failure texts each category typically shows: the knowledge base's own examples and captured output."""
    texts: dict[str, list[str]] = defaultdict(list)
    kb = _kb()
    for sig in kb.signatures:
        texts[sig.category] += [t for t in sig.examples_match if sig.matches_failure(t)]
    for path in sorted(TOOL_OUTPUT.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        for sig in kb.signatures:
            if sig.matches_failure(text):
                texts[sig.category].append(text)
                break
    texts["stale-test"] += ["AssertionError: assert 'bitnamilegacy/discourse:3.5.0' == 'discourse/discourse:3.5.3'"]
    return texts


def _draw(rng: random.Random, truth: str, texts: dict[str, list[str]], index: int) -> Facts:
    """One red run of a recipe whose true cause is ``truth``, as the bot would see it (the model)."""
    t0 = 1_760_000_000.0 + index
    target = RunRow(f"c{index}", "r", "1.0.0+1", None, t0 - 900, t0, RunStatus.RED, False, RunKind.SWEEP, "s", False)
    tier = "restore" if truth == "recipe-defect" else ("upgrade" if truth == "stale-test" else "install")
    # The failure text: typical of the cause 60% of the time, of another cause 20%, neutral 20%.
    roll = rng.random()
    if roll < 0.6 and texts.get(truth):
        text = rng.choice(texts[truth])
    elif roll < 0.8:
        text = rng.choice(texts[rng.choice([c for c in CAUSES if c != truth and texts.get(c)])])
    else:
        text = rng.choice(NEUTRAL)
    harness = truth == "infra" and rng.random() < 0.4
    failure = Failure(
        tier, "cc-ci", "test_x", text, text, "junit/x.xml", TestStatus.ERROR if harness else TestStatus.FAIL
    )
    tiers = [TierResult(tier, TestStatus.ERROR if harness else TestStatus.FAIL)]
    if harness:
        tiers.append(TierResult("custom", TestStatus.UNVER))
    # An isolation rerun exists half the time; what it shows depends on the cause.
    reruns: list[RerunFact] = []
    if rng.random() < 0.5:
        again = {"flake": 0.25, "infra": 0.3}.get(truth, 0.95)
        red = rng.random() < again
        failing = frozenset({(tier, "test_x")}) if red else frozenset()
        status = RunStatus.RED if red else RunStatus.GREEN
        reruns.append(RerunFact(f"m{index}", status, True, False, failing, t0 + 3600))
    canonical = None
    if truth == "flake" and rng.random() < 0.3:
        canonical = Canonical("r", "1.0.0+1", "abc", "idle", t0 + 7200)
    stale: list[StaleFinding] = []
    if (truth == "stale-test" and rng.random() < 0.8) or rng.random() < 0.02:
        stale.append(StaleFinding("test_x", "img:2", Presence.NOWHERE, 5, "main", (), "/clone"))
    kb = _kb()
    _sig_item = EvidenceItem(EvidenceKind.SIGNATURE, target.run_id, "", None, "")
    hits = [
        SignatureHit(
            s.id,
            s.category,
            s.description,
            s.weight,
            EvidenceKind.FAILURE,
            EvidenceItem(EvidenceKind.SIGNATURE, target.run_id, "", None, ""),
        )
        for s in kb.signatures
        if s.applies_to(tier, "cc-ci") and s.matches_failure(text)
    ]
    return Facts("r", target, tiers, [failure], [], reruns, canonical, hits, stale, [], layout=LAYOUT)


def calibration(cases: int, seed: int) -> None:
    """Brier score and a reliability table per category over ``cases`` drawn cases (see the module doc)."""
    rng = random.Random(seed)
    texts = _texts_by_category()
    drawn = [_Case(truth, _draw(rng, truth, texts, i)) for i in range(cases) for truth in [rng.choice(CAUSES)]]
    rows: list[tuple[str, str, float]] = []
    for case in drawn:
        d = decide(case.facts)
        assert d is not None
        rows.append((case.truth, d.category, d.confidence))
    brier = sum((conf - (got == truth)) ** 2 for truth, got, conf in rows) / len(rows)
    right = sum(got == truth for truth, got, _ in rows)
    print(f"calibration on {len(rows)} drawn cases (seed {seed}; a model of how causes show, not cc-ci's history):")
    print(
        f"  right {right}/{len(rows)} ({right / len(rows):.0%}); Brier score {brier:.3f} (0 is perfect, 0.25 is a coin)"
    )
    print("  reliability per verdict category: stated confidence vs how often it was right")
    print(f"    {'category':<16} {'confidence':<11} {'n':>5} {'stated':>7} {'right':>6}")
    by: dict[tuple[str, float], list[bool]] = defaultdict(list)
    stated: dict[tuple[str, float], list[float]] = defaultdict(list)
    for truth, got, conf in rows:
        band = min(int(conf * 10) / 10, 0.9)
        by[(got, band)].append(got == truth)
        stated[(got, band)].append(conf)
    for (category, band), hits in sorted(by.items()):
        mean = sum(stated[(category, band)]) / len(hits)
        share = sum(hits) / len(hits)
        print(f"    {category:<16} {band:.1f}-{band + 0.1:.1f}    {len(hits):>5} {mean:>7.2f} {share:>6.2f}")
    print(f"  named confidences: {len(confidence.ALL)} in bot/verdicts/confidence.py")


def self_consistency(sample: GeneratedData, work: Path) -> None:
    config = Config(data_dir=work / "acc-state").with_overrides(runs_dir=sample.runs_dir, warm_dir=sample.warm_dir)
    store = Store(config.db_path)
    ingest(store, config)
    verdicts = Verdicts(store, config, load_kb(), GitRecipeSearch())
    got = {c.recipe: c.verdict for c in verdicts.decide_again()}
    last = max(r.sweep for r in sample.runs if r.sweep is not None)
    expected = {r.recipe: r.expected_category for r in sample.runs if r.sweep == last and r.red}
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    print("self-consistency on the sample's latest sweep (expected = the scenario's intent; not accuracy):")
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
    done = verdicts.decide_again(names)
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
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--calibration-only", action="store_true")
    args = parser.parse_args()
    calibration(args.cases, args.seed)
    if args.calibration_only:
        return
    work = Path(tempfile.mkdtemp(prefix="ccci-verdicts-"))
    try:
        sample = generate(work / "sample")
        self_consistency(sample, work)
        big_sweep(sample, work, args.recipes, args.log_mb)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
