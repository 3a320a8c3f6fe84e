"""`status`: the bot's version, last sync, last ingest and queue — is it alive and current?"""

from __future__ import annotations

from bot import __version__
from bot.model import StatusAnswer
from commands import Command, Context, expect_args


async def handle(ctx: Context, args: list[str]) -> StatusAnswer:
    expect_args(COMMAND, args, 0, 0)
    state = ctx.state
    counts = await ctx.service.counts()
    return StatusAnswer(
        version=__version__,
        started_at=state.started_at if state else None,
        last_sync=state.last_sync if state else None,
        last_sync_error=state.last_sync_error if state else None,
        last_ingest=await ctx.service.last_ingest(),
        outbox_pending=state.outbox_pending() if state else 0,
        rooms=list(state.rooms) if state else [],
        kb_version=ctx.service.kb.version,
        runs=counts["runs"],
        last_summary=await ctx.service.last_summary(),
        next_report=state.next_report() if state else None,
        e2ee=state.e2ee() if state else None,
    )


COMMAND = Command(
    name="status",
    usage="status",
    help="Bot version, last sync, last ingest, queue, last summary, next red report.",
    acts=False,
    handler=handle,
)
