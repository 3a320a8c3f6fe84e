"""Chat commands, one module each, registered declaratively (maubot-style).

A command declares its name, usage, help text and whether it acts on the CI node (acting commands
need operator rights); its handler parses arguments strictly and returns an answer object. Handlers
never format text and never talk to a chat client: rendering and transport are elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.model import SummaryAnswer, WhyAnswer
from bot.service import Service

Answer = WhyAnswer | SummaryAnswer
Handler = Callable[[Service, list[str]], Awaitable[Answer]]

_RECIPE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_SWEEP = re.compile(r"^sweep-[0-9TZ:.-]{1,40}$")


class UsageError(ValueError):
    """Arguments that do not fit the command's usage; the message says what was expected."""


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


def registry() -> dict[str, Command]:
    """All commands by name, in help order."""
    from commands import summary, why

    return {c.name: c for c in (why.COMMAND, summary.COMMAND)}
