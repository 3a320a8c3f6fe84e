"""`mute <recipe> <until> [reason…]`: keep a known red out of the reports' attention until a date (acts).

``until`` is a date (2026-12-31) or a span (7d, 2w), in the future and at most 90 days ahead. The mute
lapses early when the recipe fails differently."""

from __future__ import annotations

from bot.memory.acts import Refused
from bot.model.answers import KnowledgeChanged, NoticeAnswer
from bot.model.records import ScanScope
from commands import Arg, Command, Context, actor
from commands.args import NOTE, RECIPE, UNTIL


async def handle(ctx: Context, recipe: str, until: float, reason: str) -> KnowledgeChanged | NoticeAnswer:
    try:
        return await ctx.service.mute(recipe, until, reason, actor(ctx))
    except Refused as exc:
        return NoticeAnswer(f"Not muted: {exc}.", ok=False)


def scope(recipe: str, **_rest: object) -> ScanScope:
    """The CLI scans the recipe's runs first, so the failure recorded against is its current one."""
    return ScanScope(recipes=frozenset({recipe}))


COMMAND = Command(
    name="mute",
    help="Mute a known red until a date or for a span (≤ 90 days); reports collapse it into one line.",
    acts=True,
    handler=handle,
    args=(
        Arg("recipe", RECIPE, "a red recipe"),
        Arg("until", UNTIL, "a date (2026-12-31) or a span (7d, 2w), at most 90 days ahead"),
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
