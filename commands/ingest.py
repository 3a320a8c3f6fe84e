"""`ingest`: scan cc-ci's runs dir now instead of waiting for the next scheduled scan (acts)."""

from __future__ import annotations

from bot.model import NoticeAnswer
from commands import Command, Context, expect_args


async def handle(ctx: Context, args: list[str]) -> NoticeAnswer:
    expect_args(COMMAND, args, 0, 0)
    report = await ctx.service.ingest()
    waiting = f", {len(report.in_progress)} still being written" if report.in_progress else ""
    problems = f"; {len(report.problems)} problem(s), see `ccci-bot ingest`" if report.problems else ""
    return NoticeAnswer(f"scanned {report.scanned} run dirs: {len(report.ingested)} new or changed{waiting}{problems}")


COMMAND = Command(name="ingest", usage="ingest", help="Scan the runs dir now (operators).", acts=True, handler=handle)
