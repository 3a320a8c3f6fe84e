"""The async face of the core: every blocking call (SQLite, file scans, git) runs in a worker thread.

Chat, web and the CLI all await the same methods, so none of them can block an event loop by accident.
The service answers about recipes itself; two parts hold the rest, each reached from it:
``service.knowledge`` (the operators' memory and teaching, :mod:`bot.service.knowledge`) and
``service.status`` (read-only state of the bot, :mod:`bot.service.status`).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from bot.answers import summary, why
from bot.answers.suggest import UnknownNameError, closest
from bot.config import Config
from bot.kb import KnowledgeBase, read_kb
from bot.kb.watch import KnowledgeWatch
from bot.masking import Masker
from bot.memory.recall import remember
from bot.model.answers import HistoryAnswer, HistoryRun, IngestReport, SummaryAnswer, WhyAnswer
from bot.model.records import RunKind, RunStatus, ScanScope
from bot.model.reports import RedReport, SweepReport
from bot.reports.compose import build_red_report, build_sweep_report
from bot.service.knowledge import Knowledge
from bot.service.status import Status
from bot.store import Store
from bot.verdicts.cache import Classified, Verdicts

if TYPE_CHECKING:
    from bot.verdicts.staletest import RecipeSearch


class Service:
    """One bot's view of cc-ci: its config, its store, its knowledge base, and the questions it answers."""

    def __init__(
        self,
        config: Config,
        kb: KnowledgeBase | None = None,
        search: RecipeSearch | None = None,
    ) -> None:
        self.config = config
        self.store = Store(config.db_path)
        watch = KnowledgeWatch(config.knowledge.dirs)  # first: a change while the files are read is seen
        self.verdicts = Verdicts(self.store, config, kb or read_kb(config.knowledge.dirs), search)
        self.masker = Masker.from_environment(config.secret_envs)
        self.knowledge = Knowledge(self.store, config, self.masker, self.verdicts, watch)
        self.status = Status(self.store, config, self.verdicts)

    @property
    def kb(self) -> KnowledgeBase:
        """The knowledge base the verdicts are decided by (``learn`` replaces it), parsed on first use."""
        return self.verdicts.kb

    def close(self) -> None:
        self.store.close()

    def _ingest_and_classify(self, scope: ScanScope | None) -> IngestReport:
        from bot.ingest.scan import ingest  # here: the run-dir readers, which an answer from the store never needs

        if scope is None:  # the poll: a knowledge base changed beside the bot is taken up first
            self.knowledge.take_up_changes()
        report = ingest(self.store, self.config, scope=scope)
        if report.affected:
            self.verdicts.decide_again(report.affected)
        # fingerprints of new reds; what lapsed (bot.memory.recall), only when the scan changed a run
        remember(self.store, time.time(), runs_changed=bool(report.affected or report.retired))
        return report

    async def ingest(self, scope: ScanScope | None = None) -> IngestReport:
        """Scan for new runs (with a ``scope``, check only the sealed runs one answer reads); decide the
        verdicts of the recipes they touched."""
        return await asyncio.to_thread(self._ingest_and_classify, scope)

    async def reclassify(self) -> list[Classified]:
        """Apply the current knowledge base to every recipe's current red run."""
        return await asyncio.to_thread(self.verdicts.decide_again)

    async def why(self, recipe: str) -> WhyAnswer:
        return await asyncio.to_thread(why.why, self.store, self.config, recipe, self.verdicts)

    async def summary(self, sweep_id: str | None = None) -> SummaryAnswer:
        return await asyncio.to_thread(summary.summary, self.store, self.config, sweep_id, self.verdicts)

    async def sweep_report(self, sweep_id: str | None = None) -> SweepReport:
        """A sweep's summary as the ops room would get it (default: the latest sweep)."""
        return await asyncio.to_thread(self._sweep_report, sweep_id)

    def _sweep_report(self, sweep_id: str | None) -> SweepReport:
        sid = sweep_id or self.store.sweeps.latest_id()
        if sid is None or not self.store.sweeps.has(sid):
            raise UnknownNameError("sweep", sid or "", closest(sid or "", self.store.sweeps.ids()))
        return build_sweep_report(self.store, self.config, sid, self.verdicts)

    async def red_report(self, slot: float) -> RedReport:
        return await asyncio.to_thread(build_red_report, self.store, self.config, slot, False, self.verdicts)

    async def recipes(self) -> list[str]:
        return await asyncio.to_thread(self.store.runs.recipes)

    async def history(self, recipe: str, n: int) -> HistoryAnswer:
        return await asyncio.to_thread(self._history, recipe, n)

    def _history(self, recipe: str, n: int) -> HistoryAnswer:
        runs = self.store.runs.last_runs(recipe, n) if n > 0 else []
        if not runs and not self.store.runs.last_runs(recipe, 1):
            raise UnknownNameError("recipe", recipe, closest(recipe, self.store.runs.recipes()))
        shown = []
        by = self.store.reruns.started_by([r.run_id for r in runs if r.kind is RunKind.ISOLATION])
        for r in runs:
            stored = self.store.verdicts.get(r.run_id) if r.status is RunStatus.RED else None
            verdict = stored.verdict if stored else None
            shown.append(
                HistoryRun(r.run_id, r.kind, r.version, r.status, r.unverified, r.finished, verdict, by.get(r.run_id))
            )
        return HistoryAnswer(recipe, shown)
