"""From a chat message to the answer's message contents: parse strictly, check rights, run the
command's handler, render. No transport here: the bot feeds messages in and queues what comes out."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from bot.answers.suggest import closest
from bot.chat.messages import notice
from bot.chat.proposals import with_proposal
from bot.config import AccessConfig
from bot.errors import BadInput, Transient
from bot.matrix.events import ChatMessage
from bot.model.answers import NoticeAnswer, WhyAnswer
from bot.model.learn import LearnAnswer
from bot.render import AnswerT, to_chat
from commands import Command, Context
from commands.registry import registry

log = logging.getLogger(__name__)
MAX_ARGS = 8
MAX_ARG_CHARS = 100
# A command whose last argument takes the rest of the line (`learn`'s pattern) may have more words;
# its converter caps their total length.
MAX_REST_ARGS = 64
MAX_REST_CHARS = 500


@dataclass(frozen=True)
class ParsedCommand:
    name: str
    args: list[str]


def parse(body: str, prefix: str) -> ParsedCommand | None:
    """``!ccci why mumble`` → ParsedCommand("why", ["mumble"]); anything not addressed to us → None.

    Reply fallbacks (leading ``> `` quote lines) are skipped; only the first real line counts.
    """
    lines = [line for line in body.splitlines() if line.strip()]
    while lines and lines[0].startswith(">"):
        lines.pop(0)
    if not lines:
        return None
    tokens = lines[0].split()
    if not tokens or tokens[0] != prefix:
        return None
    if len(tokens) == 1:
        return ParsedCommand("help", [])
    return ParsedCommand(tokens[1].lower(), tokens[2:])


def may_act(access: AccessConfig, sender: str, power_level: int) -> bool:
    return sender in access.operators or power_level >= access.min_power_level


@dataclass(frozen=True)
class Reply:
    """What answering one command produced: the command name (for records) and the message content."""

    command: str
    content: dict[str, object]
    thread: dict[str, object] | None = None  # the details, for the reply's thread (see :func:`details`)


class Dispatcher:
    def __init__(
        self,
        context: Callable[[ChatMessage], Context],
        access: AccessConfig,
        power_level: Callable[[str, str], int],
        more_url: Callable[[AnswerT], str | None] = lambda _a: None,
    ) -> None:
        self.context = context
        self.access = access
        self.power_level = power_level
        self.more_url = more_url
        self.commands = registry()

    async def answer(self, msg: ChatMessage, parsed: ParsedCommand) -> Reply:
        ctx = replace(self.context(msg), commands=self.commands)
        answer = await self._run(ctx, msg, parsed)
        chat = to_chat(answer, ctx.prefix)
        more = self.more_url(answer)
        thread = notice(*chat.thread, more_url=more) if chat.thread is not None else None
        content = notice(chat.body, chat.html, msg, more)
        if isinstance(answer, LearnAnswer) and answer.confirmable:  # a 👍 on this reply confirms it
            content = with_proposal(content, answer.proposal.request)
        return Reply(parsed.name, content, thread)

    async def _run(self, ctx: Context, msg: ChatMessage, parsed: ParsedCommand) -> AnswerT:
        command = self.commands.get(parsed.name)
        if command is None:
            hint = closest(parsed.name, list(self.commands))
            maybe = f"did you mean {' or '.join(f'`{ctx.prefix} {h}`' for h in hint)}? " if hint else ""
            return NoticeAnswer(
                f"Unknown command `{parsed.name[:40]}`; {maybe}`{ctx.prefix} help` lists them.", ok=False
            )
        rest = command.signature.rest is not None
        most, longest = (MAX_REST_ARGS, MAX_REST_CHARS) if rest else (MAX_ARGS, MAX_ARG_CHARS)
        most = max(most, command.signature.max_tokens)  # a note of up to 500 characters, word by word
        longest = max(longest, command.signature.max_chars)  # an issue URL: one token of up to 500
        if len(parsed.args) > most or any(len(a) > longest for a in parsed.args):
            return NoticeAnswer(f"Too many or too long arguments; usage: `{ctx.prefix} {command.usage}`", ok=False)
        if command.acts and not may_act(self.access, msg.sender, self.power_level(msg.room_id, msg.sender)):
            return NoticeAnswer(_refusal(command, self.access, self.power_level(msg.room_id, msg.sender)), ok=False)
        if command.acts and msg.encrypted and not msg.sender_key_known:
            return NoticeAnswer(_unknown_device(command), ok=False)
        try:
            return await command.run(ctx, parsed.args)
        except BadInput as exc:  # what was typed: the message says what (a UsageError with the usage line)
            if exc.show_usage:
                return NoticeAnswer(f"{exc}. Usage: `{ctx.prefix} {command.usage}`", ok=False)
            return NoticeAnswer(f"Sorry: {exc}", ok=False)
        except Transient as exc:  # something the answer needs did not answer: asking again later may work
            log.warning("command %s from %s: %s", parsed.name, msg.sender, exc)
            return NoticeAnswer(f"Sorry, `{parsed.name}` could not be answered just now; try again later.", ok=False)
        except Exception:  # an answer is owed even when a handler breaks (a Failure's message may name host
            # paths: it goes to the log with the traceback, not to the room)
            log.exception("command %s from %s failed", parsed.name, msg.sender)
            return NoticeAnswer(f"Sorry, `{parsed.name}` failed inside the bot; the error is in its log.", ok=False)


def _refusal(command: Command, access: AccessConfig, level: int) -> str:
    return (
        f"Sorry, `{command.name}` {_what_it_changes(command)}, so it is for operators: listed in access.operators, "
        f"or with power level ≥ {access.min_power_level} in this room (yours is {level})."
    )


KNOWLEDGE_COMMANDS = frozenset({"link", "unlink", "verdict", "mute", "unmute"})


def _what_it_changes(command: Command) -> str:
    return "changes what the bot knows" if command.name in KNOWLEDGE_COMMANDS else "acts on the CI node"


def _unknown_device(command: Command) -> str:
    return (
        f"Sorry, `{command.name}` {_what_it_changes(command)}, and this message was encrypted by a device whose keys "
        "I do not know (or that changed since I first saw it), so I cannot tell it is yours. "
        "Send it again from a device I know; `status` lists key changes."
    )


def why_url(answer: AnswerT) -> str | None:
    return answer.run_url if isinstance(answer, WhyAnswer) else None
