"""`unmute <recipe>`: lift a recipe's mute (acts)."""

from __future__ import annotations

from bot.memory.acts import Refused
from bot.model.answers import KnowledgeChanged, NoticeAnswer
from commands import Arg, Command, Context, actor
from commands.args import RECIPE


async def handle(ctx: Context, recipe: str) -> KnowledgeChanged | NoticeAnswer:
    try:
        return await ctx.service.unmute(recipe, actor(ctx))
    except Refused as exc:
        return NoticeAnswer(f"Nothing to unmute: {exc}.", ok=False)


COMMAND = Command(
    name="unmute",
    help="Lift a recipe's mute.",
    acts=True,
    handler=handle,
    args=(Arg("recipe", RECIPE, "a muted recipe"),),
)
