"""The async face of the core: every blocking call (SQLite, file scans) runs in a worker thread.

Chat, web and CLI all go through this, so none of them can block an event loop by accident.
"""

from __future__ import annotations

import asyncio

from bot import evidence, summary
from bot.config import Config
from bot.ingest import ingest
from bot.model import IngestReport, SummaryAnswer, WhyAnswer
from bot.store import Store


class Service:
    """One bot's view of cc-ci: its config, its store, and the questions it can answer."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.store = Store(config.db_path)

    def close(self) -> None:
        self.store.close()

    async def ingest(self) -> IngestReport:
        return await asyncio.to_thread(ingest, self.store, self.config)

    async def why(self, recipe: str) -> WhyAnswer:
        return await asyncio.to_thread(evidence.why, self.store, self.config, recipe)

    async def summary(self, sweep_id: str | None = None) -> SummaryAnswer:
        return await asyncio.to_thread(summary.summary, self.store, self.config, sweep_id)

    async def recipes(self) -> list[str]:
        return await asyncio.to_thread(self.store.recipes)
