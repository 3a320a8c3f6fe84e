"""Which red recipes of a finished sweep the bot reruns in isolation by itself (a pure decision).

Two kinds of red get a rerun, within ``reports.auto_rerun_max`` per sweep, in this order:
- *unsettled*: newly red (or new), its tiers tested, and its verdict less sure than
  ``reports.settled_confidence`` — unless what would settle it is no rerun (``find-cause``: it fails
  every time and nothing names why; another rerun adds nothing);
- *untested again*: red in this sweep and the one before, and this sweep's run tested nothing about
  the recipe (unverified tiers, or a verdict resting on the run's own record: harness errors, a runner
  that died). Its infra verdict is sure of itself, so the threshold alone would leave the recipe untested
  sweep after sweep. A first untested red is left to the next sweep, which tests it anyway.

The rerun itself waits until the node checks healthy (idle, its Docker engine answering): the rerun
queue's preflight (:mod:`bot.reruns.manager`) holds it until then, up to ``runner.busy_wait_s``.
"""

from __future__ import annotations

from bot.config import ReportsConfig
from bot.model.records import NextStep, Strength
from bot.model.reports import Change, ReportRow, SweepReport


def _untested(row: ReportRow) -> bool:
    """The run tested nothing about the recipe: tiers unverified, or its verdict rests on the run's record."""
    return row.unverified or (row.verdict is not None and row.verdict.strength is Strength.RUN_RECORD)


def _unsettled(row: ReportRow, settled: float) -> bool:
    if row.change not in (Change.NEWLY_RED, Change.FIRST) or _untested(row):
        return False
    v = row.verdict
    return v is None or (v.confidence < settled and v.settle is not NextStep.FIND_CAUSE)


def _untested_again(row: ReportRow) -> bool:
    return row.change is Change.STILL_RED and _untested(row)


def auto_rerun_candidates(report: SweepReport, settings: ReportsConfig) -> list[str]:
    """The recipes to rerun after this sweep, unsettled ones first, at most ``auto_rerun_max``."""
    if not settings.auto_rerun:
        return []
    unsettled = [r.recipe for r in report.red if _unsettled(r, settings.settled_confidence)]
    untested = [r.recipe for r in report.red if _untested_again(r)]
    return (unsettled + untested)[: settings.auto_rerun_max]
