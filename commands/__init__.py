"""Chat commands, one module each, registered declaratively (maubot-style).

A command declares its name, usage, help text and whether it acts (acting commands need operator
rights); its handler parses arguments strictly and returns an answer object. Handlers never format
text and never talk to a chat client: rendering and transport live elsewhere, so the CLI and the
Matrix bot run the very same handlers.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.model import (
    HelpAnswer,
    HistoryAnswer,
    NoticeAnswer,
    StatusAnswer,
    SummaryAnswer,
    WhyAnswer,
)
from bot.reruns.manager import RerunManager
from bot.service import Service

Answer = WhyAnswer | SummaryAnswer | HistoryAnswer | HelpAnswer | StatusAnswer | NoticeAnswer

_RECIPE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_SWEEP = re.compile(r"^sweep-[0-9TZ:.-]{1,40}$")


class UsageError(ValueError):
    """Arguments that do not fit the command's usage; the message says what was expected."""


@dataclass
class BotState:
    """What the running bot knows about itself, for `status`; the CLI has none."""

    started_at: float = field(default_factory=time.time)
    last_sync: float | None = None
    last_sync_error: str | None = None
    rooms: list[str] = field(default_factory=list)
    outbox_pending: Callable[[], int] = lambda: 0
    next_report: Callable[[], float | None] = lambda: None  # the red report's next slot
    e2ee: Callable[[], str | None] = lambda: None  # encryption, cross-signing, device key changes


@dataclass(frozen=True)
class Context:
    """Everything a handler may use: the core service, who asked, and the bot's own state."""

    service: Service
    prefix: str = "!ccci"
    sender: str | None = None
    room_id: str | None = None
    state: BotState | None = None
    event_id: str | None = None
    reruns: RerunManager | None = None


Handler = Callable[[Context, list[str]], Awaitable[Answer]]


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    help: str
    acts: bool
    handler: Handler


def recipe_arg(value: str) -> str:
    """A recipe name as Co-op Cloud spells them; anything else is refused before any lookup."""
    if not _RECIPE.match(value):
        raise UsageError(f"not a recipe name: {value[:40]!r} (lowercase letters, digits, '.', '_', '-')")
    return value


def sweep_arg(value: str) -> str:
    if not _SWEEP.match(value):
        raise UsageError(f"not a sweep id: {value[:40]!r} (like sweep-2026-06-14T03:00:05Z)")
    return value


def count_arg(value: str, maximum: int) -> int:
    if not value.isdigit() or not 1 <= int(value) <= maximum:
        raise UsageError(f"not a count: {value[:20]!r} (a whole number from 1 to {maximum})")
    return int(value)


def expect_args(command: Command, args: list[str], low: int, high: int) -> None:
    if not low <= len(args) <= high:
        wanted = f"{low}" if low == high else f"{low} to {high}"
        raise UsageError(f"`{command.name}` takes {wanted} argument(s), got {len(args)}")


def registry() -> dict[str, Command]:
    """All commands by name, in help order."""
    from commands import cancel, help, history, ingest, reclassify, rerun, status, summary, why

    modules = (help, why, summary, history, status, rerun, cancel, ingest, reclassify)
    return {m.COMMAND.name: m.COMMAND for m in modules}
