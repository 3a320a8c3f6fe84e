"""The bot's state as ``status``, the health probe and the pages read it: read-only, each a cheap query."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from bot.artifacts.activedir import in_flight
from bot.config import Config
from bot.model.answers import QueuedRerun
from bot.model.reruns import RerunState
from bot.schedule import next_slot, parse_cron
from bot.store import Store
from bot.verdicts.cache import Verdicts


class Status:
    """Read-only answers about the bot itself (what it holds, what waits), never about a recipe."""

    def __init__(self, store: Store, config: Config, verdicts: Verdicts) -> None:
        self.store = store
        self.config = config
        self.verdicts = verdicts

    def kb_version(self) -> str:
        """The knowledge base in force, by version (read without parsing it)."""
        return self.verdicts.kb_version

    async def last_summary(self) -> str | None:
        """The sweep the newest posted summary was about (None before the first)."""
        posted = await asyncio.to_thread(self.store.reports.latest_sweep_report)
        return posted.sweep_id if posted else None

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
