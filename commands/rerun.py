"""`rerun <recipe> [version] [xN]`: queue an isolation rerun — the experiment that settles a verdict (acts)."""

from __future__ import annotations

import re

from bot.model import NoticeAnswer
from bot.reruns.manager import RerunError
from commands import Command, Context, UsageError, recipe_arg


def parse_rerun_args(args: list[str]) -> tuple[str, str | None, int]:
    """``<recipe> [version] [xN]`` → (recipe, version, times)."""
    if not 1 <= len(args) <= 3:
        raise UsageError(f"`rerun` takes 1 to 3 arguments, got {len(args)}")
    recipe = recipe_arg(args[0])
    version, times = None, 1
    for arg in args[1:]:
        if re.fullmatch(r"x\d{1,3}", arg):
            times = int(arg[1:])
        elif version is None:
            version = arg
        else:
            raise UsageError(f"unexpected argument {arg[:40]!r}")
    return recipe, version, times


async def handle(ctx: Context, args: list[str]) -> NoticeAnswer:
    recipe, version, times = parse_rerun_args(args)
    if ctx.reruns is None:
        raise UsageError("reruns are run by the bot (`ccci-bot run`) or `ccci-bot rerun` on the CI host")
    try:
        rerun, position, folded = await ctx.reruns.request(
            recipe, version, times, ctx.sender or "cli", ctx.room_id, ctx.event_id
        )
    except RerunError as exc:
        return NoticeAnswer(f"Not queued: {exc}", ok=False)
    where = "next" if position == 1 else f"position {position} in the queue"
    if folded:
        return NoticeAnswer(f"Already queued: isolation rerun of {rerun.recipe} {rerun.version} ({where}).")
    many = f" ×{rerun.times}" if rerun.times > 1 else ""
    return NoticeAnswer(
        f"Queued: isolation rerun{many} of {rerun.recipe} {rerun.version} ({where}). It starts when the CI node "
        "is idle; progress and the result follow here."
    )


COMMAND = Command(
    name="rerun",
    usage="rerun <recipe> [version] [xN]",
    help="Re-run a recipe alone on the CI node (default: the version the latest sweep tested); xN repeats it.",
    acts=True,
    handler=handle,
)
