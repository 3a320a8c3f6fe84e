"""A crontab line is valid exactly when APScheduler schedules it: the config's check is its own parse."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.config import ConfigError
from bot.config.values import Cron, convert
from bot.schedule import CronError, next_slot, parse_cron


@pytest.mark.parametrize(
    "line", ["0 7 * * *", "*/5 * * * *", "0 9 * * 1-5", "30 6 1,15 * *", "0 0 7 * * *", "0 7 * * mon-fri"]
)
def test_lines_apscheduler_schedules_are_accepted(line: str) -> None:
    assert convert(line, Cron, "reports.cron") == line
    assert next_slot(parse_cron(line, "UTC"), datetime.now(UTC)) is not None


@pytest.mark.parametrize("line", ["61 * * * *", "0 7 * *", "0 7 * * funday", "*/0 * * * *", "0 7 * * 9"])
def test_lines_apscheduler_refuses_are_refused_with_its_reason(line: str) -> None:
    with pytest.raises(CronError) as parsed:
        parse_cron(line, "UTC")
    with pytest.raises(ConfigError) as checked:
        convert(line, Cron, "reports.cron")
    assert str(checked.value) == f"reports.cron: {parsed.value}"
