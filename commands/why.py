"""`why <recipe>`: the latest evidence about one recipe, and its verdict."""

from __future__ import annotations

from bot.model import WhyAnswer
from commands import Command, Context, expect_args, recipe_arg


async def handle(ctx: Context, args: list[str]) -> WhyAnswer:
    expect_args(COMMAND, args, 1, 1)
    return await ctx.service.why(recipe_arg(args[0]))


COMMAND = Command(
    name="why",
    usage="why <recipe>",
    help="Latest evidence for a recipe: failing tier and test, assertion, log lines, reruns, canonical, verdict.",
    acts=False,
    handler=handle,
)
