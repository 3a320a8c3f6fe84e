"""`mute <recipe> <until> [reason…]`: keep a known red out of the reports' attention until a date (acts).

``until`` is a date (2026-12-31) or a span (7d, 2w), in the future and at most 90 days ahead. The mute
lapses early when the recipe fails differently."""

from __future__ import annotations

from bot.model.answers import KnowledgeChanged, NoticeAnswer
from commands import Arg, Command, Context, actor, refused_as_notice
from commands.args import RECIPE, UNTIL, rest_text


async def handle(ctx: Context, recipe: str, until: float, reason: str) -> KnowledgeChanged | NoticeAnswer:
    return await refused_as_notice(ctx.service.knowledge.mute(recipe, until, reason, actor(ctx)), "Not muted")


COMMAND = Command(
    name="mute",
    help="Mute a known red until a date or for a span (≤ 90 days); reports collapse it into one line.",
    acts=True,
    handler=handle,
    args=(
        Arg("recipe", RECIPE, "a red recipe"),
        Arg("until", UNTIL, "a date (2026-12-31) or a span (7d, 2w), at most 90 days ahead"),
        rest_text("reason", "why (≤ 500 characters)"),
    ),
)
