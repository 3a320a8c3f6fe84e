"""`status`: the bot's version, last sync, last ingest and queue — is it alive and current?

On the CLI there is no live bot: the answer says what the store knows (last ingest, the outbox
queue, the knowledge base, the last summary) and when the next red report falls due by the config.
"""

from __future__ import annotations

import time

from bot import __version__
from bot.model.answers import StatusAnswer
from commands import Command, Context


async def handle(ctx: Context) -> StatusAnswer:
    state = ctx.state
    service = ctx.service
    return StatusAnswer(
        version=__version__,
        started_at=state.started_at if state else None,
        last_sync=state.last_sync if state else None,
        last_sync_error=state.last_sync_error if state else None,
        last_ingest=await service.status.last_ingest(),
        outbox_pending=await service.status.outbox_pending(),
        rooms=list(state.rooms) if state else [],
        kb_version=service.status.kb_version(),
        runs=await service.status.run_count(),
        last_summary=await service.status.last_summary(),
        next_report=state.next_report() if state else service.status.next_red_report(time.time()),
        live=state is not None,
        e2ee=state.e2ee() if state else None,
        reruns=await service.status.rerun_queue(),
        in_flight=await service.status.in_flight(),
    )


COMMAND = Command(
    name="status",
    help="Bot version, last sync, last ingest, the rerun queue, cc-ci's runs in flight, last summary, next red report.",
    acts=False,
    handler=handle,
)
