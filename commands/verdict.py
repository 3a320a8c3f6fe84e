"""`verdict <recipe> <category> [reason…]`: set the current red failure's verdict by hand (acts).

It wins over the rules and says so; the `why` answer still shows the rules' verdict and any evidence
that disagrees. A later red with a different failure no longer carries it."""

from __future__ import annotations

from bot.memory.acts import Refused
from bot.model.answers import KnowledgeChanged, NoticeAnswer
from bot.model.records import Category, ScanScope
from commands import Arg, Command, Context, actor
from commands.args import CATEGORY, NOTE, RECIPE


async def handle(ctx: Context, recipe: str, category: Category, reason: str) -> KnowledgeChanged | NoticeAnswer:
    try:
        return await ctx.service.set_verdict(recipe, category, reason, actor(ctx))
    except Refused as exc:
        return NoticeAnswer(f"No verdict set: {exc}.", ok=False)


def scope(recipe: str, **_rest: object) -> ScanScope:
    """The CLI scans the recipe's runs first, so the failure recorded against is its current one."""
    return ScanScope(recipes=frozenset({recipe}))


COMMAND = Command(
    name="verdict",
    help="Set a red recipe's verdict by hand (it wins over the rules, and says whose it is).",
    acts=True,
    handler=handle,
    args=(
        Arg("recipe", RECIPE, "a red recipe"),
        Arg("category", CATEGORY, "flake, recipe-defect, stale-test, upstream-defect, infra or unknown"),
        Arg(
            "reason",
            NOTE,
            "why (≤ 500 characters)",
            optional=True,
            default="",
            option=True,
            rest=True,
            cli_metavar="TEXT",
        ),
    ),
)
