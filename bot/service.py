"""The async face of the core: every blocking call (SQLite, file scans, git) goes through one offload.

Chat and web offload to a worker thread, so neither can block an event loop by accident. The CLI
answers one question and serves nothing meanwhile, so it offloads :func:`inline` and runs the same
handlers with :func:`run_inline`, without an event loop: importing asyncio alone costs about as
much as starting Python. For the same reason the scanners, the reports and the outbox are imported
in the methods that use them, and a CLI answer from stored history loads none of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar

from bot.answers import summary, why
from bot.answers.suggest import UnknownNameError, closest
from bot.config import Config
from bot.config.cron import next_slot, parse_cron
from bot.kb import KnowledgeBase, load_kb
from bot.model.answers import HistoryAnswer, HistoryRun, IngestReport, SummaryAnswer, WhyAnswer
from bot.model.records import RunStatus, ScanScope
from bot.model.reports import RedReport, SweepReport
from bot.store import Store
from bot.verdicts.cache import Classified, Verdicts

if TYPE_CHECKING:
    from bot.verdicts.staletest import RecipeSearch

P = ParamSpec("P")
T = TypeVar("T")


class Offload(Protocol):
    """Where a coroutine's blocking call runs (the shape of ``asyncio.to_thread``)."""

    def __call__(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Awaitable[T]: ...


async def in_worker_thread(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """The default offload: a worker thread, so an event loop never waits on SQLite, a scan or git."""
    import asyncio  # here: only a running event loop calls this, and it has loaded asyncio already

    return await asyncio.to_thread(fn, *args, **kwargs)


async def inline(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """The CLI's offload: the call runs in the caller's thread, so the awaiting coroutine never suspends."""
    return fn(*args, **kwargs)


def run_inline(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (its service offloads :func:`inline`) to its end, without an event loop."""
    try:
        coro.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    coro.close()
    raise RuntimeError("the coroutine waited on something: run it under an event loop")


class Service:
    """One bot's view of cc-ci: its config, its store, its knowledge base, and the questions it answers."""

    def __init__(
        self,
        config: Config,
        kb: KnowledgeBase | None = None,
        search: RecipeSearch | None = None,
        offload: Offload = in_worker_thread,
    ) -> None:
        self.config = config
        self.store = Store(config.db_path)
        self.kb = kb or load_kb(config.knowledge.dirs)
        self.verdicts = Verdicts(self.store, config, self.kb, search)
        self.offload = offload

    def close(self) -> None:
        self.store.close()

    def _ingest_and_classify(self, scope: ScanScope | None) -> IngestReport:
        from bot.ingest.scan import ingest

        report = ingest(self.store, self.config, scope=scope)
        if report.affected:
            self.verdicts.decide_again(report.affected)
        return report

    async def ingest(self, scope: ScanScope | None = None) -> IngestReport:
        """Scan for new runs (with a ``scope``, check only the sealed runs one answer reads); decide the
        verdicts of the recipes they touched."""
        return await self.offload(self._ingest_and_classify, scope)

    async def reclassify(self) -> list[Classified]:
        """Apply the current knowledge base to every recipe's current red run."""
        return await self.offload(self.verdicts.decide_again)

    async def why(self, recipe: str) -> WhyAnswer:
        return await self.offload(why.why, self.store, self.config, recipe, self.verdicts)

    async def summary(self, sweep_id: str | None = None) -> SummaryAnswer:
        return await self.offload(summary.summary, self.store, self.config, sweep_id, self.verdicts)

    async def sweep_report(self, sweep_id: str | None = None) -> SweepReport:
        """A sweep's summary as the ops room would get it (default: the latest sweep)."""
        return await self.offload(self._sweep_report, sweep_id)

    def _sweep_report(self, sweep_id: str | None) -> SweepReport:
        sid = sweep_id or self.store.sweeps.latest_id()
        if sid is None or not self.store.sweeps.has(sid):
            raise UnknownNameError("sweep", sid or "", closest(sid or "", self.store.sweeps.ids()))
        from bot.reports.compose import build_sweep_report

        return build_sweep_report(self.store, self.config, sid, self.verdicts)

    async def red_report(self, slot: float) -> RedReport:
        from bot.reports.compose import build_red_report

        return await self.offload(build_red_report, self.store, self.config, slot, False, self.verdicts)

    async def recipes(self) -> list[str]:
        return await self.offload(self.store.runs.recipes)

    async def history(self, recipe: str, n: int) -> HistoryAnswer:
        return await self.offload(self._history, recipe, n)

    def _history(self, recipe: str, n: int) -> HistoryAnswer:
        runs = self.store.runs.last_runs(recipe, n) if n > 0 else []
        if not runs and not self.store.runs.last_runs(recipe, 1):
            raise UnknownNameError("recipe", recipe, closest(recipe, self.store.runs.recipes()))
        shown = []
        for r in runs:
            stored = self.store.verdicts.get(r.run_id) if r.status is RunStatus.RED else None
            shown.append(
                HistoryRun(
                    r.run_id, r.kind, r.version, r.status, r.unverified, r.finished, stored.verdict if stored else None
                )
            )
        return HistoryAnswer(recipe, shown)

    async def last_summary(self) -> str | None:
        """The sweep the newest posted summary was about (None before the first)."""

        posted = await self.offload(self.store.reports.latest_sweep_report)
        return posted.sweep_id if posted else None

    async def counts(self) -> dict[str, int]:
        return await self.offload(self.store.counts)

    async def run_count(self) -> int:
        """Runs stored, read from one row (cheap enough for every health probe)."""
        return await self.offload(self.store.runs.count)

    async def last_ingest(self) -> str | None:
        return await self.offload(self.store.meta.get, "last_ingest")

    async def outbox_pending(self) -> int:
        """Messages queued for the ops room and not sent yet (by this process or a running bot)."""

        return await self.offload(self.store.chat.pending_count)

    def next_red_report(self, now: float) -> float | None:
        """When the red report falls due by the config (the running bot asks its scheduler instead)."""
        reports = self.config.reports
        slot = next_slot(parse_cron(reports.cron, reports.timezone), datetime.fromtimestamp(now, UTC))
        return slot.timestamp() if slot is not None else None
