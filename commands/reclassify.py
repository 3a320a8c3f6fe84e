"""`reclassify`: re-apply the current knowledge base to every red recipe (acts)."""

from __future__ import annotations

from collections import Counter

from bot.model import NoticeAnswer
from commands import Command, Context, expect_args


async def handle(ctx: Context, args: list[str]) -> NoticeAnswer:
    expect_args(COMMAND, args, 0, 0)
    done = await ctx.service.reclassify()
    counts = ", ".join(f"{n} {c}" for c, n in sorted(Counter(x.verdict.category for x in done).items()))
    return NoticeAnswer(f"reclassified {len(done)} red recipe(s) with {ctx.service.kb.version}: {counts or 'none'}")


COMMAND = Command(
    name="reclassify", usage="reclassify", help="Re-apply the knowledge base (operators).", acts=True, handler=handle
)
