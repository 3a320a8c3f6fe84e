"""A run's kind (pr / isolation / sweep) and which sweep it belongs to, from times alone.

Pure functions over ``(run_id, started, finished, pr, started_by_bot)``: the rules in docs/cc-ci-layout.md,
applied to the whole history at once because "did another run overlap it" needs every run.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.artifacts.timefmt import iso
from bot.model.records import RunKind

Interval = tuple[str, float | None, float | None, str | None, bool]


def overlapping(intervals: Sequence[Interval]) -> set[str]:
    """Run ids whose [started, finished] overlaps another run's (O(n log n) sweep line)."""
    timed = sorted(
        ((s, f, rid) for rid, s, f, _pr, _bot in intervals if s is not None and f is not None),
        key=lambda t: (t[0], t[1]),
    )
    found: set[str] = set()
    max_end = float("-inf")
    for i, (start, end, rid) in enumerate(timed):
        if start < max_end:
            found.add(rid)
        if i + 1 < len(timed) and timed[i + 1][0] < end:
            found.add(rid)
        max_end = max(max_end, end)
    return found


def group_runs(intervals: Sequence[Interval], sweep_gap_s: float) -> dict[str, tuple[RunKind, str | None]]:
    """Kind and sweep id of every run.

    ``pr`` when the run has a PR; ``isolation`` when its id is ``manual-*``, the bot started it, or no
    other run overlapped it; otherwise ``sweep``. Sweep runs closer than ``sweep_gap_s`` chain into
    one sweep, named after its first start (``sweep-2026-06-14T03:00:05Z``).
    """
    busy = overlapping(intervals)
    kinds: dict[str, tuple[RunKind, str | None]] = {}
    sweep_members: list[tuple[float, float, str]] = []
    for rid, start, end, pr, by_bot in intervals:
        if pr is not None:
            kinds[rid] = (RunKind.PR, None)
        elif rid.startswith("manual-") or by_bot or (start is not None and end is not None and rid not in busy):
            kinds[rid] = (RunKind.ISOLATION, None)
        else:
            kinds[rid] = (RunKind.SWEEP, None)
            if start is not None and end is not None:
                sweep_members.append((start, end, rid))
    sweep_members.sort()
    current: str | None = None
    horizon = float("-inf")
    for start, end, rid in sweep_members:
        if current is None or start > horizon + sweep_gap_s:
            current = f"sweep-{iso(start)}"
            horizon = end
        horizon = max(horizon, end)
        kinds[rid] = (RunKind.SWEEP, current)
    return kinds
