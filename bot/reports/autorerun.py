"""Which red recipes of a finished sweep the bot reruns in isolation by itself (a pure decision).

Two kinds of red get a rerun, within ``reports.auto_rerun_max`` per sweep, in this order:
- *unsettled*: newly red (or new), its tiers tested, and its verdict less sure than
  ``reports.settled_confidence`` — unless what would settle it is no rerun (``find-cause``: it fails
  every time and nothing names why; another rerun adds nothing);
- *untested*: red in this sweep, and nothing about the recipe tested yet (:func:`tested_nothing`) —
  red two sweeps running first, then newly red or new ones. Its infra verdict is sure of itself, so the
  threshold alone would leave the recipe untested sweep after sweep; the rerun tests it, and when it is
  green the engine settles the red as infra (``untested_green_alone``), never as a flake under load.

The rerun itself waits until the node checks healthy (idle, its Docker engine answering): the rerun
queue's preflight (:mod:`bot.reruns.manager`) holds it until then, up to ``runner.busy_wait_s``.
"""

from __future__ import annotations

from bot.config import ReportsConfig
from bot.model.records import NextStep, Strength, VerdictOrigin
from bot.model.reports import Change, ReportRow, SweepReport


def tested_nothing(row: ReportRow) -> bool:
    """Nothing about the recipe is tested yet: the sweep's run tested nothing, and no rerun or probe since.

    Decided once, by the engine: its structural facts (:func:`bot.verdicts.cite.structural_facts`: unverified
    tiers, harness errors then unverified tiers, a runner that died or was cut off) make a verdict resting on
    the run's own record (``Strength.RUN_RECORD``) unless an isolation rerun or a probe already said more. With
    no verdict of the rules' to read (none, or one given by hand), results.json's own unverified flag says it."""
    v = row.verdict
    if v is None or v.source is VerdictOrigin.OPERATOR:
        return row.unverified
    return v.strength is Strength.RUN_RECORD


def _unsettled(row: ReportRow, settled: float) -> bool:
    if row.change not in (Change.NEWLY_RED, Change.FIRST) or tested_nothing(row):
        return False
    v = row.verdict
    return v is None or (v.confidence < settled and v.settle is not NextStep.FIND_CAUSE)


def auto_rerun_candidates(report: SweepReport, settings: ReportsConfig) -> list[str]:
    """The recipes to rerun after this sweep, unsettled ones first, at most ``auto_rerun_max``."""
    if not settings.auto_rerun:
        return []
    unsettled = [r.recipe for r in report.red if _unsettled(r, settings.settled_confidence)]
    untested = [r for r in report.red if tested_nothing(r)]
    again = [r.recipe for r in untested if r.change is Change.STILL_RED]
    first = [r.recipe for r in untested if r.change is not Change.STILL_RED]
    return (unsettled + again + first)[: settings.auto_rerun_max]
