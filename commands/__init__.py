"""Chat commands, one module each, registered declaratively (maubot-style: one handler per command).

A command declares its name, help text, whether it acts (acting commands need operator rights) and
its arguments (:mod:`commands.args`). From that one declaration come the chat parser, the usage
line, ``!ccci help``, ``ccci-bot help`` and the ``ccci-bot`` subcommand. The list of commands is
:mod:`commands.registry`. The handler receives the
converted arguments as keywords and returns an answer object; it never formats text and never talks
to a chat client, so the CLI and the Matrix bot run the very same handlers and render their answers
with the same renderers.
"""

from __future__ import annotations

import os
import pwd
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.memory.acts import Refused
from bot.model.answers import (
    CalibrationAnswer,
    CancelAnswer,
    HelpAnswer,
    HistoryAnswer,
    IngestReport,
    KnowledgeChanged,
    KnownAnswer,
    NoticeAnswer,
    ReclassifyAnswer,
    RerunQueued,
    StatusAnswer,
    SummaryAnswer,
    WhyAnswer,
)
from bot.model.learn import LearnAnswer
from bot.service import Service
from commands.args import Arg, Signature, UsageError, count_arg, recipe_arg, sweep_arg

if TYPE_CHECKING:
    from bot.reruns.manager import RerunManager  # only the twins that queue or cancel are handed one

__all__ = [
    "Answer",
    "Arg",
    "BotState",
    "Command",
    "Context",
    "UsageError",
    "actor",
    "count_arg",
    "recipe_arg",
    "sweep_arg",
]

Answer = (
    WhyAnswer
    | SummaryAnswer
    | HistoryAnswer
    | HelpAnswer
    | StatusAnswer
    | NoticeAnswer
    | CancelAnswer
    | RerunQueued
    | IngestReport
    | ReclassifyAnswer
    | LearnAnswer
    | KnowledgeChanged
    | KnownAnswer
    | CalibrationAnswer
)


@dataclass
class BotState:
    """What the running bot knows about itself, for `status`; the CLI has none."""

    started_at: float = field(default_factory=time.time)
    last_sync: float | None = None
    last_sync_error: str | None = None
    rooms: list[str] = field(default_factory=list)
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
    commands: Mapping[str, Command] = field(default_factory=dict)  # the registry, for `help`
    confirmed: bool = False  # the CLI's --apply: the operator at the terminal confirmed an acting proposal


async def refused_as_notice(change: Awaitable[KnowledgeChanged], not_done: str) -> KnowledgeChanged | NoticeAnswer:
    """An operator's change, or the short reason it was not made (``not_done``: "Not linked", …)."""
    try:
        return await change
    except Refused as exc:
        return NoticeAnswer(f"{not_done}: {exc}.", ok=False)


def actor(ctx: Context) -> str:
    """Who is acting, for the audit trail: the chat sender, or on the command line the Unix user
    (by the process's uid, not an environment variable anyone can set)."""
    if ctx.sender:
        return ctx.sender
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # a uid with no passwd entry (a container): the number is still who it was
        return f"uid {os.getuid()}"


# Called with the context and the declared arguments as keywords (names as declared).
Handler = Callable[..., Awaitable[Answer]]


@dataclass(frozen=True)
class Command:
    """One command. ``cli_flags``: switches only the CLI twin has, as (flag, help); ``--apply`` sets
    ``ctx.confirmed`` (chat confirms otherwise: `learn`'s 👍). ``brief``: the room gets the answer's short
    form (the details in its thread); the CLI prints the whole answer, and the room's with ``--brief``.
    How its ``ccci-bot`` twin runs (a scan first, a rerun manager) is the CLI's (:data:`bot.cli.main.TWINS`)."""

    name: str
    help: str
    acts: bool
    handler: Handler
    args: tuple[Arg, ...] = ()
    cli_flags: tuple[tuple[str, str], ...] = ()
    brief: bool = False  # the room gets a short form; the CLI's ``--brief`` prints it

    @property
    def signature(self) -> Signature:
        return Signature(self.name, self.args)

    @property
    def usage(self) -> str:
        return self.signature.usage()

    async def run(self, ctx: Context, tokens: list[str]) -> Answer:
        """Parse chat tokens strictly, then call the handler."""
        return await self.handler(ctx, **self.signature.parse(tokens))

    async def call(self, ctx: Context, given: dict[str, Any]) -> Answer:
        """Call the handler with values parsed elsewhere (argparse), converted as chat converts them."""
        return await self.handler(ctx, **self.signature.values_from(given))
