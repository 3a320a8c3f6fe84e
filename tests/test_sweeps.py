import random

import pytest

from bot.ingest.sweeps import Interval, group_runs, overlapping
from bot.model.records import RunKind


def brute_force(intervals: list[Interval]) -> set[str]:
    found = set()
    for a in intervals:
        for b in intervals:
            timed = None not in (a[1], a[2], b[1], b[2])
            if a[0] != b[0] and timed and a[1] < b[2] and b[1] < a[2]:  # type: ignore[operator]
                found.add(a[0])
    return found


@pytest.mark.parametrize("seed", range(30))
def test_overlap_sweep_line_agrees_with_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    intervals: list[Interval] = []
    for i in range(rng.randint(0, 40)):
        start = rng.uniform(0, 1000)
        intervals.append((f"r{i}", start, start + rng.uniform(0.1, 80), None, False))
    assert overlapping(intervals) == brute_force(intervals)


def test_kinds_follow_cc_ci_rules() -> None:
    intervals: list[Interval] = [
        ("753", 0, 100, None, False),  # overlaps 754 → sweep
        ("754", 50, 150, None, False),
        ("ab-1", 60, 70, "42", False),  # a PR run, even though it overlaps
        ("manual-99", 120, 130, None, False),  # manual-* is isolation even when overlapping
        ("900", 5000, 5100, None, False),  # alone → isolation
        ("901", 6000, 6100, None, True),  # started by the bot
        ("755", 140, 300, None, False),  # overlaps 754: same sweep
        ("760", 900, 950, None, False),  # after a gap ≤ 900 s from 755's end, overlapping 761
        ("761", 940, 990, None, False),
        ("800", 3000, 3100, None, False),  # a later sweep
        ("801", 3050, 3150, None, False),
    ]
    kinds = group_runs(intervals, sweep_gap_s=900)
    assert kinds["ab-1"] == (RunKind.PR, None)
    assert kinds["manual-99"] == (RunKind.ISOLATION, None)
    assert kinds["900"] == (RunKind.ISOLATION, None)
    assert kinds["901"] == (RunKind.ISOLATION, None)
    first = kinds["753"][1]
    assert kinds["753"][0] is RunKind.SWEEP
    assert {kinds[r][1] for r in ("753", "754", "755", "760", "761")} == {first}
    assert kinds["800"][1] == kinds["801"][1] != first
