"""`calibration`: how the rules' automatic verdicts compare with the operators' verdicts given by hand —
accuracy, Brier score, and per engine rule its count, accuracy and mean confidence."""

from __future__ import annotations

from bot.model.answers import CalibrationAnswer
from commands import Command, Context


async def handle(ctx: Context) -> CalibrationAnswer:
    return await ctx.service.knowledge.calibration()


COMMAND = Command(
    name="calibration",
    help="How the rules' verdicts agree with the operators' verdicts given by hand, per rule (accuracy, Brier).",
    acts=False,
    handler=handle,
)
