"""`history <recipe> [n]`: the recipe's last n runs as a strip of results with verdicts."""

from __future__ import annotations

from bot.model.answers import HistoryAnswer
from bot.model.records import ScanScope
from commands import Arg, Command, Context
from commands.args import RECIPE, count

DEFAULT_N = 10
MAX_N = 50


async def handle(ctx: Context, recipe: str, n: int) -> HistoryAnswer:
    return await ctx.service.history(recipe, n)


def scope(recipe: str, n: int) -> ScanScope:
    """The strip reads this recipe's runs and their stored verdicts, nothing else."""
    return ScanScope(recipes=frozenset({recipe}))


COMMAND = Command(
    name="history",
    help=f"The recipe's last n runs (default {DEFAULT_N}), oldest first, with versions and verdicts.",
    acts=False,
    handler=handle,
    args=(
        Arg("recipe", RECIPE, "a recipe name"),
        Arg("n", count(MAX_N), f"how many runs, 1 to {MAX_N} (default {DEFAULT_N})", optional=True, default=DEFAULT_N),
    ),
)
