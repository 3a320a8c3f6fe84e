"""The red report's schedule: a crontab line as an APScheduler 3.x trigger, and which slot is due.

APScheduler 3's ``CronTrigger.from_crontab`` numbers weekdays from Monday (cron counts from Sunday),
so the day-of-week field is translated here to names, which both agree on. An optional sixth,
leading field gives seconds (as in Quartz), which tests use to fire a real job within seconds.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.errors import BadInput

if TYPE_CHECKING:
    from apscheduler.triggers.cron import CronTrigger

_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_MAX_STEPS = 200_000  # bounds the walk over slots (a seconds cron over a long outage)


class CronError(BadInput, ValueError):
    """A crontab line that cannot be scheduled; the message says which field and why."""


def _day_number(token: str) -> int:
    name = token.lower()[:3]
    if name in _DAYS:
        return _DAYS.index(name)
    if token.isdigit() and 0 <= int(token) <= 7:
        return int(token) % 7
    raise CronError(f"day of week: expected 0-7 or sun-sat, got {token!r}")


def _cron_days(field: str) -> str:
    """Cron's day-of-week field (0 or 7 = Sunday) as the weekday names APScheduler reads unambiguously."""
    if field in ("*", "?"):
        return "*"
    days: set[int] = set()
    for part in field.split(","):
        match = re.fullmatch(r"(\*|[^/-]+(?:-[^/-]+)?)(?:/(\d+))?", part)
        if match is None:
            raise CronError(f"day of week: cannot read {part!r}")
        span, step = match.group(1), int(match.group(2) or 1)
        if step < 1:
            raise CronError(f"day of week: step must be >= 1 in {part!r}")
        if span == "*":
            first, last = 0, 6
        elif "-" in span:
            a, b = span.split("-")
            first, last = _day_number(a), _day_number(b)
            if b.strip() == "7":
                last = 7
        else:
            first = last = _day_number(span)
            if match.group(2):
                last = 6
        if last < first:
            raise CronError(f"day of week: range {span!r} runs backwards")
        days.update(d % 7 for d in range(first, last + 1, step))
    return ",".join(_DAYS[d] for d in sorted(days))


def parse_cron(expr: str, timezone: str) -> CronTrigger:
    """``min hour dom mon dow`` (or ``sec min hour dom mon dow``) in ``timezone``; also the config's check of
    ``reports.cron``, so a line is valid exactly when APScheduler schedules it."""
    from apscheduler.triggers.cron import CronTrigger  # here: a CLI answer does not schedule, nor import it

    fields = expr.split()
    if len(fields) not in (5, 6):
        raise CronError(f"expected 5 fields (min hour day month weekday) or 6 with seconds first, got {expr!r}")
    second = fields.pop(0) if len(fields) == 6 else "0"
    minute, hour, day, month, dow = fields
    try:
        return CronTrigger(
            second=second,
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=_cron_days(dow),
            timezone=timezone,
        )
    except ValueError as exc:
        raise CronError(f"{expr!r}: {exc}") from exc


def latest_slot(trigger: CronTrigger, after: datetime, now: datetime) -> datetime | None:
    """The last fire time in (after, now], or None: the slot a bot that was down owes the room.

    APScheduler 3 only walks forward, so walk from a short window back, widening it until a slot is
    found: a frequent schedule is answered from the last hour, a monthly one from the last year.
    """
    for window in (timedelta(hours=1), timedelta(days=2), timedelta(days=400)):
        slot: datetime | None = None
        candidate = trigger.get_next_fire_time(None, max(after, now - window))
        steps = 0
        while candidate is not None and candidate <= now and steps < _MAX_STEPS:
            if candidate > after:
                slot = candidate
            candidate = trigger.get_next_fire_time(candidate, candidate + timedelta(microseconds=1))
            steps += 1
        if slot is not None or after >= now - window:
            return slot
    return None


def next_slot(trigger: CronTrigger, now: datetime) -> datetime | None:
    """The next fire time after ``now`` (what `status` shows when no scheduler is running, as on the CLI)."""
    result: datetime | None = trigger.get_next_fire_time(None, now + timedelta(microseconds=1))
    return result
