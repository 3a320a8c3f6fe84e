"""The default sample world: its data (world.yaml) scheduled into the runs cc-ci made.

world.yaml says what happened: the recipes and their releases, which runs each sweep made and in what
order, the PR run and the reruns, and the verdict each run deserves. This module says when: the weekly
sweeps before `now`, each run's start and length, and which runs (and tiers) shared the node.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from demo.sample.model import TIERS, RecipeSpec, RunSpec, World, tier_progress
from demo.sample.worldfile import WORLD_FILE, SweepPlan, load_world

_TAIL_OVERLAP: Final = timedelta(minutes=3)
_CONCURRENCY: Final = 4


def sweep_starts(now: datetime) -> tuple[datetime, datetime, datetime]:
    """Three weekly sweeps (Sunday 03:00 UTC), the last one at least 12 hours before `now`."""
    now = now.astimezone(UTC)
    last = (now - timedelta(hours=12)).replace(hour=3, minute=0, second=0, microsecond=0)
    while last.weekday() != 6 or last > now - timedelta(hours=12):
        last -= timedelta(days=1)
    return last - timedelta(days=14), last - timedelta(days=7), last


def _duration(recipe: RecipeSpec, salt: int) -> timedelta:
    """A recipe's run length, varied a little per run so runs do not line up."""
    jitter = (sum(map(ord, recipe.name)) * 37 + salt * 101) % 240
    return timedelta(minutes=recipe.minutes, seconds=jitter)


def _sweep_runs(sweep: int, plan: SweepPlan, recipes: Mapping[str, RecipeSpec]) -> list[RunSpec]:
    """Schedule one sweep: a batch with `_CONCURRENCY` slots, then the tail as the batch drains."""
    batch, tail = plan.batch, plan.tail
    slots = [plan.start + timedelta(seconds=5 + 40 * i) for i in range(_CONCURRENCY)]
    runs: list[RunSpec] = []
    for index, planned in enumerate(batch + tail):
        recipe = recipes[planned.recipe]
        if index < len(batch):
            slot = min(range(_CONCURRENCY), key=lambda i: slots[i])
            began = slots[slot] + timedelta(seconds=20)
        else:
            began = max(r.finished for r in runs[: len(batch)]) - _TAIL_OVERLAP
        length = _duration(recipe, sweep * 10 + index)
        extras = planned.extras
        if extras.faults.dies_after:
            length = length * 2 / 5
        run = RunSpec(
            planned.run_id,
            recipe.name,
            recipe.latest_at(plan.start).tag,
            "sweep",
            began,
            began + length,
            sweep=sweep,
            expect=planned.expect,
            faults=extras.faults,
            tier_env=extras.tier_env,
            style=extras.style,
        )
        if index < len(batch):
            slots[slot] = run.finished
        runs.append(run)
    return runs


def _tier_windows(run: RunSpec) -> list[tuple[datetime, datetime]]:
    span = run.finished - run.started
    return [(run.started + span * a, run.started + span * b) for a, b in map(tier_progress, range(len(TIERS)))]


def _with_load(runs: list[RunSpec]) -> list[RunSpec]:
    """Set the load flag on runs that shared the node, and per tier where a tier's load differs."""
    loaded: list[RunSpec] = []
    for run in runs:
        others = [o for o in runs if o is not run]
        load = any(run.overlaps(o) for o in others)
        tier_env = {tier: dict(env) for tier, env in run.tier_env.items()}
        for tier, (begin, end) in zip(TIERS, _tier_windows(run), strict=True):
            busy = any(o.started < end and begin < o.finished for o in others)
            if busy != load:
                tier_env.setdefault(tier, {})["CCCI_SAMPLE_LOAD"] = "1" if busy else "0"
        loaded.append(replace(run, load=load, tier_env=tier_env))
    return loaded


def default_world(now: datetime, world_file: Path = WORLD_FILE) -> World:
    """Build the default world: thirteen recipes, three weekly sweeps, a PR run and reruns."""
    data = load_world(sweep_starts(now), world_file)
    by_name = {r.name: r for r in data.recipes}
    runs = [run for i, plan in enumerate(data.sweeps, 1) for run in _sweep_runs(i, plan, by_name)]
    last_sweep_end = max(r.finished for r in runs if r.sweep == len(data.sweeps))

    pr = data.pr_run
    recipe = by_name[pr.recipe]
    began = last_sweep_end + timedelta(minutes=50)
    runs.append(
        RunSpec(
            pr.run_id,
            recipe.name,
            recipe.latest_at(began).tag,
            "pr",
            began,
            began + _duration(recipe, 99),
            pr=pr.pr,
            ref=f"refs/pull/{pr.pr}/head",
            expect=pr.expect,
        )
    )
    began = last_sweep_end + timedelta(hours=3)
    for rerun in data.reruns:
        recipe = by_name[rerun.recipe]
        run = RunSpec(
            rerun.run_id,
            recipe.name,
            recipe.latest_at(began).tag,
            "isolation",
            began,
            began + _duration(recipe, 7),
            expect=rerun.expect,
        )
        runs.append(run)
        began = run.finished + timedelta(minutes=15)
    if began > now:
        raise ValueError("the default world does not fit before `now`")

    return World(
        now=now,
        recipes=data.recipes,
        runs=tuple(_with_load(runs)),
        sweeps=tuple(plan.start for plan in data.sweeps),
        withdrawn_images=data.withdrawn_images,
        overlays_added=data.overlays_added,
        verdicts=data.verdicts,
    )
