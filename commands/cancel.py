"""`cancel [recipe]`: drop queued reruns and stop the running one (acts)."""

from __future__ import annotations

from bot.model import NoticeAnswer
from commands import Command, Context, UsageError, expect_args, recipe_arg


async def handle(ctx: Context, args: list[str]) -> NoticeAnswer:
    expect_args(COMMAND, args, 0, 1)
    recipe = recipe_arg(args[0]) if args else None
    if ctx.reruns is None:
        raise UsageError("there is no rerun queue here")
    cancelled = await ctx.reruns.cancel(recipe)
    if not cancelled:
        return NoticeAnswer(f"Nothing to cancel{' for ' + recipe if recipe else ''}.")
    names = ", ".join(f"{r.recipe} {r.version}" for r in cancelled)
    return NoticeAnswer(f"Cancelled: {names}.")


COMMAND = Command(
    name="cancel",
    usage="cancel [recipe]",
    help="Cancel queued or running reruns (operators).",
    acts=True,
    handler=handle,
)
