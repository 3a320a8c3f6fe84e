"""Put the sample's sweeps into a runs dir one at a time, as cc-ci would write them (tests, demo, benchmarks)."""

from __future__ import annotations

import shutil
from pathlib import Path

from demo.sample.generate import GeneratedData, GeneratedRun


def runs_up_to(sample: GeneratedData, sweep: int) -> list[GeneratedRun]:
    """Every run that finished before sweep ``sweep + 1`` began (sweep runs, PR runs, reruns)."""
    later = [r.started for r in sample.runs if r.sweep is not None and r.sweep > sweep]
    cutoff = min(later) if later else None
    return [r for r in sample.runs if cutoff is None or r.finished < cutoff]


def runs_of_sweep_window(sample: GeneratedData, sweep: int) -> list[GeneratedRun]:
    """The runs written between the end of sweep ``sweep - 1``'s window and the end of ``sweep``'s."""
    before = {r.run_id for r in runs_up_to(sample, sweep - 1)} if sweep > 1 else set()
    return [r for r in runs_up_to(sample, sweep) if r.run_id not in before]


def copy_runs(sample: GeneratedData, runs: list[GeneratedRun], runs_dir: Path) -> None:
    """Copy run dirs in via a staging dir and a rename each, so the bot never sees half a run dir."""
    staging = runs_dir.parent / f".staging-{runs_dir.name}"
    staging.mkdir(exist_ok=True)
    for run in runs:
        shutil.copytree(sample.run_dir(run.run_id), staging / run.run_id, symlinks=True)
        (staging / run.run_id).rename(runs_dir / run.run_id)


def last_runs(sample: GeneratedData, sweep: int) -> dict[str, GeneratedRun]:
    """Each recipe's last run in sweep ``sweep`` (the one its status comes from)."""
    found: dict[str, GeneratedRun] = {}
    for r in sorted((r for r in sample.runs if r.sweep == sweep), key=lambda r: r.finished):
        found[r.recipe] = r
    return found


def expected_moves(sample: GeneratedData, sweep: int) -> tuple[set[str], set[str]]:
    """(newly red, newly green) of ``sweep`` against ``sweep - 1``, from the generator's ground truth."""
    now, before = last_runs(sample, sweep), last_runs(sample, sweep - 1)
    newly_red = {r for r, run in now.items() if run.red and r in before and not before[r].red}
    newly_green = {r for r, run in now.items() if not run.red and r in before and before[r].red}
    return newly_red, newly_green
