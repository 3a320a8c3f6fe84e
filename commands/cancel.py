"""`cancel [recipe]`: drop queued reruns and stop the running one (acts).

The bot stops its running rerun (its process group is killed); the CLI, which runs no rerun of the
bot's, cancels queued ones in the store and names those still running in the bot.
"""

from __future__ import annotations

from bot.model.answers import CancelAnswer, RerunRef
from commands import Arg, Command, Context, UsageError
from commands.args import RECIPE


async def handle(ctx: Context, recipe: str | None) -> CancelAnswer:
    if ctx.reruns is None:
        raise UsageError("there is no rerun queue here")
    cancelled, elsewhere = await ctx.reruns.cancel(recipe)
    return CancelAnswer(
        recipe,
        [RerunRef(r.id, r.recipe, r.version) for r in cancelled],
        [RerunRef(r.id, r.recipe, r.version) for r in elsewhere],
    )


COMMAND = Command(
    name="cancel",
    help="Cancel queued or running reruns.",
    acts=True,
    handler=handle,
    args=(Arg("recipe", RECIPE, "only this recipe's reruns (default: all)", optional=True),),
)
