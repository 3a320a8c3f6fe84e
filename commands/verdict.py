"""`verdict <recipe> <category> [reason…]`: set the current red failure's verdict by hand (acts).

It wins over the rules and says so; the `why` answer still shows the rules' verdict and any evidence
that disagrees. A later red with a different failure no longer carries it."""

from __future__ import annotations

from bot.model.answers import KnowledgeChanged, NoticeAnswer
from bot.model.records import Category
from commands import Arg, Command, Context, actor, refused_as_notice
from commands.args import CATEGORY, RECIPE, rest_text


async def handle(ctx: Context, recipe: str, category: Category, reason: str) -> KnowledgeChanged | NoticeAnswer:
    setting = ctx.service.knowledge.set_verdict(recipe, category, reason, actor(ctx))
    return await refused_as_notice(setting, "No verdict set")


COMMAND = Command(
    name="verdict",
    help="Set a red recipe's verdict by hand (it wins over the rules, and says whose it is).",
    acts=True,
    handler=handle,
    args=(
        Arg("recipe", RECIPE, "a red recipe"),
        Arg("category", CATEGORY, "flake, recipe-defect, stale-test, upstream-defect, infra or unknown"),
        rest_text("reason", "why (≤ 500 characters)"),
    ),
)
