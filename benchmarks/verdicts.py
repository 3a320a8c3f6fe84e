"""Verdict benchmark: calibration of the engine's confidences on a labelled set this script builds,
a self-consistency check on the sample world, and the time to classify a sweep of 20 red recipes whose
logs are 100 MB each.

    .venv/bin/python benchmarks/verdicts.py [--cases 3000] [--seed 13] [--recipes 20] [--log-mb 100]
    .venv/bin/python benchmarks/verdicts.py --calibration-only [--no-sweep-history]

Calibration: a labelled set of red runs is drawn from a stated model of how each true cause shows
(below, ``_draw``): the failure text (real knowledge-base examples and captured tool output, matched
by the real knowledge base), whether an isolation rerun exists and what it shows, a canonical after the
red, stale-test facts, harness errors — and, unless ``--no-sweep-history``, whether the recipe's
sweeps before this one were red the same way (``_with_history``: a lasting defect half the time, a
flake or a node problem rarely; drawn from a stream of its own, so the cases are otherwise the same
with or without it). The engine decides each; the Brier score of its confidence against "the category
was right" and reliability tables per category and per rule say whether the numbers in
bot/verdicts/confidence.py mean what they claim — under that model, which is an assumption, not cc-ci's
history.

Scoring ``unknown``: no case's true cause is unknown, so an ``unknown`` verdict is never right, and the
overall figures score it as wrong at its stated confidence (0.3: it costs 0.09 of Brier score each, a
wrong ``recipe-defect`` at 0.85 costs 0.72). An ``unknown`` claims no cause, though, so the figures for
decided verdicts alone (and how many were left undecided) are printed beside them, and so is how often a
verdict at or above ``reports.settled_confidence`` (which the bot treats as settled: no automatic rerun)
was wrong. The sample world's own cases are a self-consistency check (its scenarios were written together
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
from bot.config import CcciConfig, Config, ReportsConfig
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
SETTLED = ReportsConfig().settled_confidence  # a verdict this sure gets no automatic rerun
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


# The model of sweep history (an assumption, like the rest of the model): given a red run of this true
# cause, how likely the recipe's previous sweep was red the same way (same test, same normalised failure).
# A lasting defect stays red until fixed: half its reds are not its first. A flake under load, or a problem
# of the node, rarely fails the same test the same way two sweeps running.
REPEAT_GIVEN_TRUTH = {"recipe-defect": 0.5, "stale-test": 0.5, "upstream-defect": 0.5, "flake": 0.1, "infra": 0.15}
SWEEPS_WALKED = 5


def _with_history(rng: random.Random, truth: str, facts: Facts) -> Facts:
    """The same red run, with its earlier sweeps red the same way as often as the model says."""
    from dataclasses import replace

    from bot.verdicts.clusters import normalize
    from bot.verdicts.records import SweepRepeat

    sweeps = 1
    while sweeps < SWEEPS_WALKED and rng.random() < REPEAT_GIVEN_TRUTH[truth]:
        sweeps += 1
    if sweeps < 2:
        return facts
    ids = tuple(f"{facts.target.run_id}-{n}" for n in range(sweeps))
    repeat = SweepRepeat(sweeps, ids, (facts.target.version or "?",), normalize(facts.failures[0].message))
    return replace(facts, repeated=repeat)


def _table(title: str, key: str, rows: list[tuple[str, str, float, str]], by_rule: bool) -> None:
    print(f"  {title}")
    print(f"    {key:<42} {'confidence':<11} {'n':>5} {'stated':>7} {'right':>6}")
    hits: dict[tuple[str, float], list[bool]] = defaultdict(list)
    stated: dict[tuple[str, float], list[float]] = defaultdict(list)
    for truth, got, conf, rule in rows:
        band = min(int(conf * 10) / 10, 0.9)
        name = f"{rule} ({got})" if by_rule else got
        hits[(name, band)].append(got == truth)
        stated[(name, band)].append(conf)
    for (name, band), found in sorted(hits.items()):
        mean, share = sum(stated[(name, band)]) / len(found), sum(found) / len(found)
        print(f"    {name:<42} {band:.1f}-{band + 0.1:.1f}    {len(found):>5} {mean:>7.2f} {share:>6.2f}")


def calibration(cases: int, seed: int, history: bool = True) -> None:
    """Brier score and reliability tables over ``cases`` drawn cases (see the module doc)."""
    rng = random.Random(seed)
    history_rng = random.Random(seed * 7919 + 1)  # its own stream: the cases are the same without it
    texts = _texts_by_category()
    drawn = []
    for i in range(cases):
        truth = rng.choice(CAUSES)
        facts = _draw(rng, truth, texts, i)
        drawn.append(_Case(truth, _with_history(history_rng, truth, facts) if history else facts))
    rows: list[tuple[str, str, float, str]] = []
    for case in drawn:
        d = decide(case.facts)
        assert d is not None
        rows.append((case.truth, d.category, d.confidence, d.rule))
    brier = sum((conf - (got == truth)) ** 2 for truth, got, conf, _ in rows) / len(rows)
    right = sum(got == truth for truth, got, _, _ in rows)
    model = "with sweep history" if history else "without sweep history"
    print(
        f"calibration on {len(rows)} drawn cases (seed {seed}, {model}; a model of how causes show, "
        "not cc-ci's history):"
    )
    print(
        f"  right {right}/{len(rows)} ({right / len(rows):.0%}); Brier score {brier:.3f} (0 is perfect, 0.25 is a coin;"
        " `unknown` scored as wrong)"
    )
    decided = [r for r in rows if r[1] != Category.UNKNOWN]
    if decided:
        d_right = sum(got == truth for truth, got, _, _ in decided)
        d_brier = sum((conf - (got == truth)) ** 2 for truth, got, conf, _ in decided) / len(decided)
        print(
            f"  decided (not unknown) {len(decided)}/{len(rows)} ({len(decided) / len(rows):.0%}): right {d_right} "
            f"({d_right / len(decided):.0%}); Brier score {d_brier:.3f}"
        )
    settled = [r for r in rows if r[2] >= SETTLED]
    wrong = sum(got != truth for truth, got, _, _ in settled)
    print(
        f"  at or above {SETTLED:.2f} (settled: no automatic rerun): {len(settled)}, of which wrong {wrong} "
        f"({wrong / len(settled) if settled else 0:.0%})"
    )
    undecided = Counter(str(truth) for truth, got, _, _ in rows if got == Category.UNKNOWN)
    print(f"  left unknown, by true cause: {', '.join(f'{k} {n}' for k, n in sorted(undecided.items()))}")
    _table("reliability per verdict category: stated confidence vs how often it was right", "category", rows, False)
    _table("reliability per rule", "rule (category)", rows, True)
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
    parser.add_argument("--no-sweep-history", action="store_true", help="the model without earlier sweeps")
    args = parser.parse_args()
    calibration(args.cases, args.seed, history=not args.no_sweep_history)
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
