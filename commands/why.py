"""`why <recipe>`: the latest evidence about one recipe, and its verdict."""

from __future__ import annotations

from bot.model import WhyAnswer
from commands import Arg, Command, Context
from commands.args import RECIPE


async def handle(ctx: Context, recipe: str) -> WhyAnswer:
    return await ctx.service.why(recipe)


COMMAND = Command(
    name="why",
    help="Latest evidence for a recipe: failing tier and test, assertion, log lines, reruns, canonical, verdict.",
    acts=False,
    handler=handle,
    args=(Arg("recipe", RECIPE, "a recipe name, e.g. mumble"),),
    fresh=True,
)
