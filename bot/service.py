"""The async face of the core: every blocking call (SQLite, file scans, git) runs in a worker thread.

Chat, web and CLI all go through this, so none of them can block an event loop by accident.
"""

from __future__ import annotations

import asyncio

from bot import evidence, summary
from bot.config import Config
from bot.ingest import ingest
from bot.kb import KnowledgeBase, load_kb
from bot.model import IngestReport, SummaryAnswer, WhyAnswer
from bot.store import Store
from bot.verdicts.classify import Classified, Verdicts
from bot.verdicts.staletest import GitRecipeSearch, RecipeSearch


class Service:
    """One bot's view of cc-ci: its config, its store, its knowledge base, and the questions it answers."""

    def __init__(self, config: Config, kb: KnowledgeBase | None = None, search: RecipeSearch | None = None) -> None:
        self.config = config
        self.store = Store(config.db_path)
        self.kb = kb or load_kb(config.knowledge.dirs)
        self.verdicts = Verdicts(self.store, config, self.kb, search or GitRecipeSearch())

    def close(self) -> None:
        self.store.close()

    def _ingest_and_classify(self) -> IngestReport:
        report = ingest(self.store, self.config)
        if report.affected:
            self.verdicts.classify(report.affected)
        return report

    async def ingest(self) -> IngestReport:
        """Scan for new runs; decide the verdicts of the recipes they touched."""
        return await asyncio.to_thread(self._ingest_and_classify)

    async def reclassify(self) -> list[Classified]:
        """Apply the current knowledge base to every recipe's current red run."""
        return await asyncio.to_thread(self.verdicts.classify)

    async def why(self, recipe: str) -> WhyAnswer:
        return await asyncio.to_thread(evidence.why, self.store, self.config, recipe, self.verdicts)

    async def summary(self, sweep_id: str | None = None) -> SummaryAnswer:
        return await asyncio.to_thread(summary.summary, self.store, self.config, sweep_id, self.verdicts)

    async def recipes(self) -> list[str]:
        return await asyncio.to_thread(self.store.recipes)
