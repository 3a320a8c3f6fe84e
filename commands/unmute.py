"""`unmute <recipe>`: lift a recipe's mute (acts)."""

from __future__ import annotations

from bot.model.answers import KnowledgeChanged, NoticeAnswer
from commands import Arg, Command, Context, actor, refused_as_notice
from commands.args import RECIPE


async def handle(ctx: Context, recipe: str) -> KnowledgeChanged | NoticeAnswer:
    return await refused_as_notice(ctx.service.knowledge.unmute(recipe, actor(ctx)), "Nothing to unmute")


COMMAND = Command(
    name="unmute",
    help="Lift a recipe's mute.",
    acts=True,
    handler=handle,
    args=(Arg("recipe", RECIPE, "a muted recipe"),),
)
