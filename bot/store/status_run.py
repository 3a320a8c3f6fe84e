"""The status-run rule: which stored run decides a recipe's status, and which other runs weigh on it.

Status comes from the recipe's run in the latest sweep that included it; isolation reruns never
change it, they are evidence. PR runs never make a released version red. The answers, the verdicts,
the metrics and the rerun reports all ask here, so they agree on it.
"""

from __future__ import annotations

from bot.model.records import RunKind, RunRow
from bot.store.runs import RunStore


def target_run(runs: list[RunRow]) -> RunRow | None:
    """The run that decides a recipe's status: in the latest sweep, else the latest released run."""
    swept = [r for r in runs if r.kind is RunKind.SWEEP]
    if swept:
        return swept[-1]
    released = [r for r in runs if r.kind is not RunKind.PR]
    return released[-1] if released else None


def status_runs(runs: RunStore) -> dict[str, RunRow]:
    """Every recipe's status run, as :func:`target_run` picks it, without reading every run."""
    by_recipe: dict[str, list[RunRow]] = {}
    for run in runs.last_run_of_each_kind():
        by_recipe.setdefault(run.recipe, []).append(run)
    picked = {recipe: target_run(rows) for recipe, rows in by_recipe.items()}
    return {recipe: run for recipe, run in picked.items() if run is not None}


def status_run(runs: RunStore, recipe: str) -> RunRow | None:
    """One recipe's status run, as :func:`target_run` picks it, from its last run of each kind.

    target_run only ever looks at the last sweep run and the last run that is not a PR, so those
    (one indexed probe per kind) decide exactly as the recipe's whole history would."""
    return target_run(runs.last_runs_by_kind(recipe))


RERUNS_SHOWN = 50  # the newest reruns of a version that an answer cites; older ones add nothing


def reruns_of(runs: RunStore, target: RunRow) -> list[RunRow]:
    """Other runs of the same version: every isolation run, and sweep runs after the target."""
    return runs.reruns_of(target, RERUNS_SHOWN)
