"""The indexed history queries answer exactly what the definitions over a recipe's whole history do.

Each reference below is the definition as it was written over ``Store.runs_of`` (every run of the
recipe, oldest first); the store's LIMITed queries must agree with it on random histories, streaks
longer than a page included, on a real SQLite database.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bot.answers.why import STREAK_PAGE, red_streak
from bot.model.records import ParsedRun, RunKind, RunRow, RunStatus, TestCase, TestStatus
from bot.store import Store
from bot.store.status_run import reruns_of, status_run, target_run

RECIPES = ("alpha", "beta", "gamma")


def ref_reruns(runs: list[RunRow], target: RunRow) -> list[RunRow]:
    return [
        r
        for r in runs
        if r.run_id != target.run_id
        and r.version == target.version
        and r.status is not RunStatus.UNKNOWN
        and (r.kind is RunKind.ISOLATION or (r.kind is RunKind.SWEEP and (r.finished or 0) > (target.finished or 0)))
    ]


def ref_streak(runs: list[RunRow], target: RunRow) -> tuple[RunRow | None, int]:
    pool = [r for r in runs if r.kind is target.kind and (r.finished or 0) <= (target.finished or 0)]
    first: RunRow | None = None
    count = 0
    for r in reversed(pool):
        if r.status is not RunStatus.RED:
            break
        first, count = r, count + 1
    return first, count


def ref_peers(store: Store, tier: str, test: str, recipe: str) -> list[tuple[str, str]]:
    latest: dict[str, tuple[str, TestStatus]] = {}
    for peer in store.runs.recipes():
        for run in store.runs.runs_of(peer):
            if peer == recipe or run.pr is not None or run.finished is None:
                continue
            for case in store.results.testcases(run.run_id):
                if (case.tier, case.name) == (tier, test):
                    latest[peer] = (run.run_id, case.status)
    return [(peer, run_id) for peer, (run_id, status) in sorted(latest.items()) if status is TestStatus.PASS]


def history(rng: random.Random, n: int, red_bias: float) -> list[ParsedRun]:
    runs = []
    for i in range(n):
        kind = rng.choice([RunKind.SWEEP] * 6 + [RunKind.ISOLATION, RunKind.PR])
        status = RunStatus.RED if rng.random() < red_bias else rng.choice([RunStatus.GREEN, RunStatus.UNKNOWN])
        finished = float(rng.randint(1, n // 2 + 1)) * 60  # ties on purpose: the order then falls to run_id
        ok = TestStatus.FAIL if status is RunStatus.RED and rng.random() < 0.5 else TestStatus.PASS
        runs.append(
            ParsedRun(
                run_id=f"r{i:05d}",
                recipe=rng.choice(RECIPES),
                version=rng.choice(["1.0", "1.1", None]),
                pr="7" if kind is RunKind.PR else None,
                ref=None,
                started=finished - 30,
                finished=finished,
                tiers=[],
                tests=[TestCase("install", "cc-ci", "test_up", "t", ok, 1, "junit/x.xml")],
                failures=[],
                status=status,
                unverified=False,
                derived=False,
                directory=f"/runs/r{i:05d}",
                fingerprint="f",
            )
        )
    return runs


@pytest.mark.parametrize("seed", range(6))
def test_indexed_queries_agree_with_the_whole_history(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    store = Store(tmp_path / "db.sqlite3")
    runs = history(rng, 600, red_bias=0.995 if seed % 2 else 0.5)  # odd seeds: streaks far past a page
    store.ingest.save_runs(runs)
    kinds = {
        r.run_id: (RunKind.PR if r.pr else RunKind.ISOLATION if i % 8 == 7 else RunKind.SWEEP, None)
        for i, r in enumerate(runs)
    }
    store.ingest.set_kinds(kinds)
    longest = 0
    for recipe in RECIPES:
        everything = store.runs.runs_of(recipe)
        target = target_run(everything)
        assert status_run(store.runs, recipe) == target
        assert target is not None
        assert reruns_of(store.runs, target) == ref_reruns(everything, target)[-50:]
        assert red_streak(store, target) == ref_streak(everything, target)
        longest = max(longest, ref_streak(everything, target)[1])
        same = [r for r in everything if r.version == target.version and r.kind is not RunKind.PR][-10:]
        assert store.runs.same_version_runs(target, 10) == same
        assert store.runs.last_runs(recipe, 7) == everything[-7:]
        assert store.results.peers_passing("install", "test_up", recipe) == ref_peers(
            store, "install", "test_up", recipe
        )
    if seed % 2:
        assert longest > STREAK_PAGE  # the long-streak path was exercised
    assert store.runs.recipes() == sorted(RECIPES)
    assert store.runs.count() == len(runs)
    assert status_run(store.runs, "nope") is None


@pytest.mark.parametrize("seed", range(4))
def test_sweep_queries_agree_with_every_sweep_run(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    store = Store(tmp_path / "db.sqlite3")
    runs = history(rng, 300, red_bias=0.5)
    store.ingest.save_runs(runs)
    kinds: dict[str, tuple[RunKind, str | None]] = {}
    for r in runs:
        if r.pr is not None:
            kinds[r.run_id] = (RunKind.PR, None)
        elif rng.random() < 0.2:
            kinds[r.run_id] = (RunKind.ISOLATION, None)
        else:
            kinds[r.run_id] = (RunKind.SWEEP, f"s{rng.randint(0, 40):03d}")
    store.ingest.set_kinds(kinds)
    sweep_runs = [r for r in runs if kinds[r.run_id][0] is RunKind.SWEEP]
    newest = max(r.finished or 0 for r in sweep_runs)
    assert store.sweeps.latest_id() in {kinds[r.run_id][1] for r in sweep_runs if r.finished == newest}
    ids = sorted({sid for _, sid in kinds.values() if sid is not None})
    assert store.sweeps.ids() == ids
    for i, sid in enumerate(ids):
        assert store.sweeps.has(sid)
        assert store.sweeps.previous_id(sid) == (ids[i - 1] if i else None)
    assert not store.sweeps.has("s999") and not store.sweeps.has("")
    assert store.sweeps.previous_id("s999") == ids[-1]
