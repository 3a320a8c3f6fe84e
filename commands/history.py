"""`history <recipe> [n]`: the recipe's last n runs as a strip of results with verdicts."""

from __future__ import annotations

from bot.model import HistoryAnswer
from commands import Command, Context, count_arg, expect_args, recipe_arg

DEFAULT_N = 10
MAX_N = 50


async def handle(ctx: Context, args: list[str]) -> HistoryAnswer:
    expect_args(COMMAND, args, 1, 2)
    n = count_arg(args[1], MAX_N) if len(args) == 2 else DEFAULT_N
    return await ctx.service.history(recipe_arg(args[0]), n)


COMMAND = Command(
    name="history",
    usage=f"history <recipe> [n ≤ {MAX_N}]",
    help=f"The recipe's last n runs (default {DEFAULT_N}), oldest first, with versions and verdicts.",
    acts=False,
    handler=handle,
)
