"""`summary [sweep]`: every recipe of the latest (or a named) sweep with its status and verdict."""

from __future__ import annotations

from bot.model import SummaryAnswer
from commands import Command, Context, expect_args, sweep_arg


async def handle(ctx: Context, args: list[str]) -> SummaryAnswer:
    expect_args(COMMAND, args, 0, 1)
    return await ctx.service.summary(sweep_arg(args[0]) if args else None)


COMMAND = Command(
    name="summary",
    usage="summary [sweep-id]",
    help="The latest sweep (or the one named): every recipe with status, failing tier/test and verdict.",
    acts=False,
    handler=handle,
)
