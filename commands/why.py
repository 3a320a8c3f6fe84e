"""`why <recipe>`: the latest evidence about one recipe."""

from __future__ import annotations

from bot.model import WhyAnswer
from bot.service import Service
from commands import Command, UsageError, recipe_arg


async def handle(service: Service, args: list[str]) -> WhyAnswer:
    if len(args) != 1:
        raise UsageError(f"usage: {COMMAND.usage}")
    return await service.why(recipe_arg(args[0]))


COMMAND = Command(
    name="why",
    usage="why <recipe>",
    help="Latest evidence for a recipe: failing tier and test, assertion, log lines, reruns, canonical.",
    acts=False,
    handler=handle,
)
