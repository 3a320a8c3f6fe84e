"""`known`: the known issues (URL, note, recipes, runs matched, first/last seen, still failing) and the
muted reds with their expiry."""

from __future__ import annotations

from bot.model.answers import KnownAnswer
from commands import Command, Context


async def handle(ctx: Context) -> KnownAnswer:
    return await ctx.service.knowledge.known()


COMMAND = Command(
    name="known",
    help="Known issues: each linked URL with its recipes, runs matched, first/last seen, still failing; mutes.",
    acts=False,
    handler=handle,
)
