"""The async face of the core: every blocking call (SQLite, file scans, git) runs in a worker thread.

Chat, web and the CLI all await the same methods, so none of them can block an event loop by accident.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime

from bot.answers import summary, why
from bot.answers.suggest import UnknownNameError, closest
from bot.artifacts.activedir import in_flight
from bot.config import Config
from bot.ingest.scan import ingest
from bot.kb import KnowledgeBase, load_kb
from bot.kb.watch import KnowledgeWatch
from bot.learn.propose import propose
from bot.learn.write import write
from bot.masking import Masker
from bot.memory import acts
from bot.memory.calibration import calibration
from bot.memory.recall import remember
from bot.model.answers import (
    CalibrationAnswer,
    HistoryAnswer,
    HistoryRun,
    IngestReport,
    KnowledgeChanged,
    KnownAnswer,
    QueuedRerun,
    RecipeVerdict,
    SummaryAnswer,
    WhyAnswer,
)
from bot.model.knowledge import AuditEntry
from bot.model.learn import LearnAnswer, LearnRequest, Refusal, TaughtSignature
from bot.model.records import Category, RunKind, RunStatus, ScanScope
from bot.model.reports import RedReport, SweepReport
from bot.model.reruns import RerunState
from bot.reports.compose import build_red_report, build_sweep_report
from bot.schedule import next_slot, parse_cron
from bot.store import Store
from bot.verdicts.cache import Classified, Verdicts
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
        self.knowledge_watch = KnowledgeWatch(config.knowledge.dirs)  # first: a change while loading is seen
        self.kb = kb or load_kb(config.knowledge.dirs)
        self.verdicts = Verdicts(self.store, config, self.kb, search)
        self._teaching = threading.Lock()  # one `learn` writes and reloads at a time
        self.masker = Masker.from_environment(config.secret_envs)

    def close(self) -> None:
        self.store.close()

    def _ingest_and_classify(self, scope: ScanScope | None) -> IngestReport:
        if scope is None:  # the poll
            self._notice_knowledge()
        report = ingest(self.store, self.config, scope=scope)
        if report.affected:
            self.verdicts.decide_again(report.affected)
        # fingerprints of new reds; what lapsed (bot.memory.recall), only when the scan changed a run
        remember(self.store, time.time(), runs_changed=bool(report.affected or report.retired))
        return report

    def _notice_knowledge(self) -> None:
        """A knowledge base changed beside the bot (`learn --apply` on the CLI, a hand edit) is taken up at
        the next poll as `learn` does it: reloaded, every red decided again (a file that no longer loads
        keeps the previous one: bot.kb.watch)."""
        if not self.knowledge_watch.moved():
            return
        with self._teaching:
            kb = self.knowledge_watch.reload(self.kb)
            if kb is not None:
                self.kb = self.verdicts.kb = kb
                self.verdicts.decide_again()

    async def ingest(self, scope: ScanScope | None = None) -> IngestReport:
        """Scan for new runs (with a ``scope``, check only the sealed runs one answer reads); decide the
        verdicts of the recipes they touched."""
        return await asyncio.to_thread(self._ingest_and_classify, scope)

    async def reclassify(self) -> list[Classified]:
        """Apply the current knowledge base to every recipe's current red run."""
        return await asyncio.to_thread(self.verdicts.decide_again)

    async def learn(self, request: LearnRequest, by: str, apply: bool) -> LearnAnswer:
        """Check a pattern for the knowledge base; with ``apply`` (a 👍, ``--apply``) and every check
        passed, write it, reload the knowledge base and decide every red again."""
        return await asyncio.to_thread(self._learn, request, by, apply)

    def _learn(self, request: LearnRequest, by: str, apply: bool) -> LearnAnswer:
        if not apply:
            proposal = propose(self.store, self.config, self.kb, request)
            return LearnAnswer(proposal, confirmable=proposal.acceptable)
        with self._teaching:
            proposal = propose(self.store, self.config, self.kb, request)  # again: the history may have moved
            if not proposal.acceptable:
                return LearnAnswer(proposal)
            at = time.time()
            directory = self.config.knowledge.dirs[0]
            try:
                path = write(directory, proposal, by, at)
            except OSError as exc:
                reason = f"the knowledge directory cannot be written ({exc.strerror or exc})"
                return LearnAnswer(replace(proposal, refusal=Refusal.NO_DIRECTORY, reason=reason))
            kb = load_kb(self.config.knowledge.dirs)
            if not any(s.id == proposal.signature_id for s in kb.signatures):  # another file's id won: undo
                path.unlink(missing_ok=True)
                raise RuntimeError(f"{path.name} did not load: {'; '.join(kb.problems) or 'its id is taken'}")
            self.kb = kb
            self.verdicts.kb = kb
            done = self.verdicts.decide_again()
        verdicts = [RecipeVerdict(c.recipe, c.run_id, c.verdict) for c in done]
        return LearnAnswer(proposal, TaughtSignature(path.name, by, at, kb.version, verdicts))

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

    # --- what the operators know (bot.memory.acts; acts.Refused when it cannot be done as asked) -------

    def _known_recipe(self, recipe: str) -> None:
        if not self.store.runs.last_runs(recipe, 1):
            raise UnknownNameError("recipe", recipe, closest(recipe, self.store.runs.recipes()))

    async def link(self, recipe: str, url: str, note: str, by: str) -> KnowledgeChanged:
        await asyncio.to_thread(self._known_recipe, recipe)
        return await asyncio.to_thread(acts.link, self.store, self.masker, recipe, url, note, by, time.time())

    async def unlink(self, recipe: str, url: str | None, by: str) -> KnowledgeChanged:
        return await asyncio.to_thread(acts.unlink, self.store, recipe, url, by, time.time())

    async def set_verdict(self, recipe: str, category: Category, reason: str, by: str) -> KnowledgeChanged:
        await asyncio.to_thread(self._known_recipe, recipe)
        return await asyncio.to_thread(acts.verdict, self.store, self.masker, recipe, category, reason, by, time.time())

    async def mute(self, recipe: str, until: float, reason: str, by: str) -> KnowledgeChanged:
        await asyncio.to_thread(self._known_recipe, recipe)
        return await asyncio.to_thread(acts.mute, self.store, self.masker, recipe, until, reason, by, time.time())

    async def unmute(self, recipe: str, by: str) -> KnowledgeChanged:
        return await asyncio.to_thread(acts.unmute, self.store, recipe, by, time.time())

    async def known(self) -> KnownAnswer:
        return await asyncio.to_thread(acts.known, self.store, time.time())

    async def calibration(self) -> CalibrationAnswer:
        return await asyncio.to_thread(calibration, self.store, self.verdicts)

    async def knowledge_trail(self, recipe: str, limit: int = 100) -> list[AuditEntry]:
        """Who changed what the operators know about a recipe, newest first (the recipe page's history)."""
        return await asyncio.to_thread(self.store.knowledge.audit, recipe, limit)

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

    async def last_summary(self) -> str | None:
        """The sweep the newest posted summary was about (None before the first)."""
        posted = await asyncio.to_thread(self.store.reports.latest_sweep_report)
        return posted.sweep_id if posted else None

    async def counts(self) -> dict[str, int]:
        return await asyncio.to_thread(self.store.counts)

    async def run_count(self) -> int:
        """Runs stored, read from one row (cheap enough for every health probe)."""
        return await asyncio.to_thread(self.store.runs.count)

    async def last_ingest(self) -> str | None:
        return await asyncio.to_thread(self.store.meta.get, "last_ingest")

    async def outbox_pending(self) -> int:
        """Messages queued for the ops room and not sent yet (by this process or a running bot)."""
        return await asyncio.to_thread(self.store.chat.pending_count)

    async def rerun_queue(self) -> list[QueuedRerun]:
        """Reruns not ended yet (running or waiting first, then the queue in order), whoever asked."""
        active = await asyncio.to_thread(self.store.reruns.active)
        active.sort(key=lambda r: (r.state is RerunState.QUEUED, r.id))
        return [QueuedRerun(r.id, r.recipe, r.version, r.times, r.state, r.requested_by) for r in active]

    async def in_flight(self) -> list[str]:
        """cc-ci's runs in flight: its active dir's entries."""
        return await asyncio.to_thread(in_flight, self.config.ccci.active_dir)

    def next_red_report(self, now: float) -> float | None:
        """When the red report falls due by the config (the running bot asks its scheduler instead)."""
        reports = self.config.reports
        slot = next_slot(parse_cron(reports.cron, reports.timezone), datetime.fromtimestamp(now, UTC))
        return slot.timestamp() if slot is not None else None
