"""`summary [sweep]`: every recipe of the latest (or a named) sweep with its status and verdict."""

from __future__ import annotations

from bot.model.answers import SummaryAnswer
from bot.model.records import ScanScope
from commands import Arg, Command, Context
from commands.args import SWEEP


async def handle(ctx: Context, sweep: str | None) -> SummaryAnswer:
    return await ctx.service.summary(sweep)


def scope(sweep: str | None) -> ScanScope:
    """The answer reads one sweep's runs: the named one, or the latest."""
    return ScanScope(sweeps=frozenset({sweep} if sweep else ()), latest_sweep=sweep is None)


COMMAND = Command(
    name="summary",
    help="The latest sweep (or the one named): every recipe with status, failing tier/test and verdict.",
    acts=False,
    handler=handle,
    args=(Arg("sweep", SWEEP, "a sweep id (default: the latest)", optional=True, metavar="sweep-id"),),
)
