"""Times as cc-ci writes them: ISO 8601, its compact ``20260617T050314Z`` form, or epoch seconds."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

_COMPACT = re.compile(r"^(\d{8})T(\d{6})(?:\.\d+)?Z?$")
# Times outside [2000, 2100) are absurd for a CI run: one ``1e20`` would otherwise be "the latest run"
# forever and break every date formatting. Such values are treated as missing.
EARLIEST = 946684800.0  # 2000-01-01T00:00:00Z
LATEST = 4102444800.0  # 2100-01-01T00:00:00Z


def usable(ts: float | None) -> bool:
    """Whether ``ts`` is a finite epoch time inside the accepted range."""
    return ts is not None and math.isfinite(ts) and EARLIEST <= ts < LATEST


def _formattable(ts: float | None) -> bool:
    """Whether ``datetime`` can show ``ts`` (years 1–9999): formatting never raises, whatever was stored."""
    return ts is not None and math.isfinite(ts) and -62135596800.0 <= ts < 253402300800.0


def parse_time(value: object) -> float | None:
    """Return epoch seconds, or ``None`` when the value is absent, unreadable or absurd (never raises)."""
    parsed = _parse(value)
    return parsed if usable(parsed) else None


def unusable_time(value: object) -> bool:
    """A value that is present but is not a usable time (for a note on the run)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return False
    return parse_time(value) is None


def _parse(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return float(value)
        except OverflowError:  # an int too large for a float
            return None
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
    try:
        return parsed.timestamp()
    except (OverflowError, ValueError, OSError):
        return None


def iso(ts: float | None) -> str | None:
    """Epoch seconds to ``2026-06-14T03:21:40Z`` (None for none or a value no calendar can show)."""
    if ts is None or not _formattable(ts):
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def short(ts: float | None) -> str:
    """Compact human form for terminals and chat: ``2026-06-14 03:21``."""
    if ts is None or not _formattable(ts):
        return "?"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")


def age(seconds: float) -> str:
    """``3d 4h`` style durations."""
    if not math.isfinite(seconds):
        return "?"
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"
