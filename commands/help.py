"""`help`: generated from the command registry, so it can never disagree with what exists."""

from __future__ import annotations

from bot.model import CommandHelp, HelpAnswer
from commands import Command, Context, expect_args, registry


async def handle(ctx: Context, args: list[str]) -> HelpAnswer:
    expect_args(COMMAND, args, 0, 0)
    return HelpAnswer(ctx.prefix, [CommandHelp(c.name, c.usage, c.help, c.acts) for c in registry().values()])


COMMAND = Command(name="help", usage="help", help="This list.", acts=False, handler=handle)
