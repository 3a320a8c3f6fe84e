"""`ingest`: scan cc-ci's runs dir now instead of waiting for the next scheduled scan (acts)."""

from __future__ import annotations

from bot.model.answers import IngestReport
from commands import Command, Context


async def handle(ctx: Context) -> IngestReport:
    return await ctx.service.ingest()


COMMAND = Command(
    name="ingest",
    help="Scan the runs dir now: what was new, still being written, or unreadable.",
    acts=True,
    handler=handle,
)
