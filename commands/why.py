"""`why <recipe>`: the latest evidence about one recipe, and its verdict."""

from __future__ import annotations

from bot.model.answers import WhyAnswer
from bot.model.records import ScanScope
from commands import Arg, Command, Context
from commands.args import RECIPE


async def handle(ctx: Context, recipe: str) -> WhyAnswer:
    return await ctx.service.why(recipe)


def scope(recipe: str) -> ScanScope:
    """The answer reads this recipe's runs, and others' only to decide a verdict again (see ingest)."""
    return ScanScope(recipes=frozenset({recipe}))


COMMAND = Command(
    name="why",
    help="Latest evidence for a recipe: failing tier and test, assertion, log lines, reruns, canonical, verdict.",
    acts=False,
    handler=handle,
    args=(Arg("recipe", RECIPE, "a recipe name, e.g. mumble"),),
    brief=True,
)
