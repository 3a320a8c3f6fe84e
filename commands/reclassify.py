"""`reclassify`: re-apply the current knowledge base to every red recipe (acts)."""

from __future__ import annotations

from bot.model.answers import RecipeVerdict, ReclassifyAnswer
from commands import Command, Context


async def handle(ctx: Context) -> ReclassifyAnswer:
    done = await ctx.service.reclassify()
    kb = ctx.service.kb
    return ReclassifyAnswer(
        kb.version,
        len(kb.signatures),
        list(kb.problems),
        [RecipeVerdict(c.recipe, c.run_id, c.verdict) for c in done],
    )


COMMAND = Command(
    name="reclassify",
    help="Re-apply the knowledge base to every red recipe.",
    acts=True,
    handler=handle,
)
