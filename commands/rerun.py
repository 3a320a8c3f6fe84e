"""`rerun <recipe> [version] [xN]`: queue an isolation rerun — the experiment that settles a verdict (acts)."""

from __future__ import annotations

from bot.model.answers import NoticeAnswer, RerunQueued
from bot.model.reruns import RerunError
from commands import Arg, Command, Context, UsageError
from commands.args import RECIPE, TIMES, VERSION


async def handle(ctx: Context, recipe: str, version: str | None, times: int) -> RerunQueued | NoticeAnswer:
    if ctx.reruns is None:
        raise UsageError("reruns are run by the bot (`ccci-bot run`) or `ccci-bot rerun` on the CI host")
    try:
        rerun, position, folded = await ctx.reruns.request(
            recipe, version, times, ctx.sender or "cli", ctx.room_id, ctx.event_id
        )
    except RerunError as exc:
        return NoticeAnswer(f"Not queued: {exc}", ok=False)
    return RerunQueued(rerun.id, rerun.recipe, rerun.version, rerun.times, position, folded)


COMMAND = Command(
    name="rerun",
    help="Re-run a recipe alone on the CI node (default: the version the latest sweep tested); xN repeats it.",
    acts=True,
    handler=handle,
    args=(
        Arg("recipe", RECIPE, "a recipe name"),
        Arg(
            "version",
            VERSION,
            "the version to run (default: the one the latest sweep tested)",
            optional=True,
            option=True,
            cli_metavar="V",
        ),
        Arg(
            "times",
            TIMES,
            "repeat the isolated run N times (k-of-N); `xN` in chat, `--times N` on the command line",
            optional=True,
            default=1,
            metavar="xN",
            option=True,
            cli_metavar="N",
        ),
    ),
)
