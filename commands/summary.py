"""`summary [sweep]`: every recipe of the latest (or a named) sweep with its status."""

from __future__ import annotations

from bot.model import SummaryAnswer
from bot.service import Service
from commands import Command, UsageError, sweep_arg


async def handle(service: Service, args: list[str]) -> SummaryAnswer:
    if len(args) > 1:
        raise UsageError(f"usage: {COMMAND.usage}")
    return await service.summary(sweep_arg(args[0]) if args else None)


COMMAND = Command(
    name="summary",
    usage="summary [sweep-id]",
    help="The latest sweep (or the one named): every recipe with status and failing tier/test.",
    acts=False,
    handler=handle,
)
