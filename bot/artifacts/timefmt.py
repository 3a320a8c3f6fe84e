"""Times as cc-ci writes them: ISO 8601, its compact ``20260617T050314Z`` form, or epoch seconds."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_COMPACT = re.compile(r"^(\d{8})T(\d{6})(?:\.\d+)?Z?$")


def parse_time(value: object) -> float | None:
    """Return epoch seconds, or ``None`` when the value is absent or unreadable (never raises)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    match = _COMPACT.match(text)
    if match:
        try:
            return datetime.strptime(match[1] + match[2], "%Y%m%d%H%M%S").replace(tzinfo=UTC).timestamp()
        except ValueError:
            return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def iso(ts: float | None) -> str | None:
    """Epoch seconds to ``2026-06-14T03:21:40Z``."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def short(ts: float | None) -> str:
    """Compact human form for terminals and chat: ``2026-06-14 03:21``."""
    if ts is None:
        return "?"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")


def age(seconds: float) -> str:
    """``3d 4h`` style durations."""
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"
