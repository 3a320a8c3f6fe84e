"""Command arguments, declared once (like mautrix-python's command arguments).

Each command lists its :class:`Arg`\\ s; from that one declaration come the chat parser (strict:
count, type and choices are checked before any lookup), the chat usage line, the help texts and the
``ccci-bot`` argparse subcommand. A type's converter raises :class:`UsageError` with a message that
says what was expected, so chat and CLI refuse bad input in the same words.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.answers.suggest import closest
from bot.errors import BadInput
from bot.model.knowledge import MAX_MUTE_DAYS, MAX_TEXT
from bot.model.recipe_name import RECIPE_NAME_RULE, is_recipe_name
from bot.model.records import Category, ScanScope


class UsageError(BadInput, ValueError):
    """Arguments that do not fit the command's usage; the message says what was expected."""

    show_usage = True


_SWEEP = re.compile(r"^sweep-[0-9TZ:.-]{1,40}$")
_VERSION = re.compile(r"^\S{1,100}$")


@dataclass(frozen=True)
class ArgType:
    """How one kind of argument is spelled and checked.

    ``chat_pattern``: a type written with a marker in chat (``x3`` for a repeat count) is recognised
    by this pattern wherever it stands after the positional arguments; group 1 is converted.
    """

    name: str
    convert: Callable[[str], object]
    chat_pattern: re.Pattern[str] | None = None
    max_chars: int = 100  # the longest token chat accepts for it (the converter may say less)


def recipe_arg(value: str) -> str:
    """A recipe name as Co-op Cloud spells them; anything else is refused before any lookup."""
    if not is_recipe_name(value):
        raise UsageError(f"not a recipe name: {value[:40]!r} ({RECIPE_NAME_RULE})")
    return value


def sweep_arg(value: str) -> str:
    if not _SWEEP.match(value):
        raise UsageError(f"not a sweep id: {value[:40]!r} (like sweep-2026-06-14T03:00:05Z)")
    return value


def count_arg(value: str, maximum: int) -> int:
    if not value.isdigit() or not 1 <= int(value) <= maximum:
        raise UsageError(f"not a count: {value[:20]!r} (a whole number from 1 to {maximum})")
    return int(value)


def version_arg(value: str) -> str:
    """One token; whether it looks like a version of this CI is the rerun queue's check (runner.version_pattern)."""
    if not _VERSION.match(value):
        raise UsageError(f"not a version: {value[:40]!r}")
    return value


def times_arg(value: str) -> int:
    """How many isolated runs; the upper bound is the config's (runner.max_times), checked on request."""
    if not value.isdigit() or int(value) < 1:
        raise UsageError(f"not a repeat count: {value[:20]!r} (a whole number ≥ 1)")
    return int(value)


def text_arg(value: str) -> str:
    return value


SIGNATURE_CATEGORIES = tuple(c.value for c in Category if c is not Category.UNKNOWN)
MAX_PATTERN_CHARS = 500


def signature_category_arg(value: str) -> Category:
    """One of the categories a signature may name (not `unknown`); a misspelt one gets the closest."""
    if value.lower() in SIGNATURE_CATEGORIES:
        return Category(value.lower())
    hint = closest(value, list(SIGNATURE_CATEGORIES), n=1)
    maybe = f"; did you mean {hint[0]}?" if hint else ""
    raise UsageError(f"not a category: {value[:40]!r}{maybe} (one of {', '.join(SIGNATURE_CATEGORIES)})")


def pattern_arg(value: str) -> str:
    """A regular expression's text; whether RE2 can run it is the command's check, said in its answer."""
    if not value.strip():
        raise UsageError("the pattern is empty")
    if len(value) > MAX_PATTERN_CHARS:
        raise UsageError(f"the pattern is {len(value)} characters; at most {MAX_PATTERN_CHARS}")
    return value


_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def url_arg(value: str) -> str:
    """An issue's address: http(s) only, at most 500 characters, no spaces or control characters. It is
    stored and shown (escaped), never fetched."""
    if len(value) > MAX_TEXT:
        raise UsageError(f"the URL is {len(value)} characters; at most {MAX_TEXT}")
    if not _URL.match(value) or _CONTROL.search(value):
        raise UsageError(f"not an http(s) URL: {escape_controls(value[:60])!r}")
    return value


def escape_controls(value: str) -> str:
    """Control characters (newlines, escapes, bidi line breaks) written as ``\\xNN``/``\\uNNNN``, visible."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), value)


def note_arg(value: str) -> str:
    """A note or reason: at most 500 characters, control characters escaped."""
    text = escape_controls(value.strip())
    if len(text) > MAX_TEXT:
        raise UsageError(f"the text is {len(text)} characters; at most {MAX_TEXT}")
    return text


def category_arg(value: str) -> Category:
    """One of the six verdict categories; a misspelt one is refused with the closest."""
    names = [c.value for c in Category]
    if value.lower() in names:
        return Category(value.lower())
    hint = closest(value, names, n=1)
    maybe = f"; did you mean {hint[0]}?" if hint else ""
    raise UsageError(f"not a category: {value[:40]!r} (one of {', '.join(names)}){maybe}")


_SPAN = re.compile(r"^(\d{1,3})([dw])$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def until_arg(value: str, now: float | None = None) -> float:
    """When a mute ends: a date (``2026-12-31``: to the end of that day, UTC) or a span (``7d``, ``2w``);
    in the future and at most 90 days ahead."""
    now = time.time() if now is None else now
    span = _SPAN.match(value.lower())
    if span:
        days = int(span.group(1)) * (7 if span.group(2) == "w" else 1)
        until = now + days * 86400.0
    elif _DATE.match(value):
        try:
            day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            raise UsageError(f"not a date: {value[:20]!r}") from None
        until = (day + timedelta(days=1)).timestamp()
    else:
        raise UsageError(f"not a date or span: {value[:20]!r} (like 2026-12-31, 7d or 2w)")
    if until <= now:
        raise UsageError(f"{value} is in the past; a mute ends in the future")
    if until > now + MAX_MUTE_DAYS * 86400.0:
        raise UsageError(f"{value} is more than {MAX_MUTE_DAYS} days ahead; mute for {MAX_MUTE_DAYS} days at most")
    return until


RECIPE = ArgType("recipe", recipe_arg)
SWEEP = ArgType("sweep", sweep_arg)
VERSION = ArgType("version", version_arg)
TIMES = ArgType("times", times_arg, re.compile(r"^x(\d{1,3})$"))
TEXT = ArgType("text", text_arg)
CATEGORY = ArgType("category", category_arg)
SIGNATURE_CATEGORY = ArgType("category", signature_category_arg)
PATTERN = ArgType("pattern", pattern_arg)
URL = ArgType("url", url_arg, max_chars=MAX_TEXT)
NOTE = ArgType("text", note_arg)
UNTIL = ArgType("until", until_arg)
REST_TOKENS = 100  # a note or reason in chat: the rest of the line, this many words at most


def count(maximum: int) -> ArgType:
    return ArgType(f"count ≤ {maximum}", lambda value: count_arg(value, maximum))


@dataclass(frozen=True)
class Arg:
    """One argument of a command.

    ``metavar`` is how chat usage names it (default: the name), ``cli_metavar`` the command line's
    (default: the name in capitals); ``option`` makes it ``--name VALUE`` on the command line (in
    chat it stays positional); ``default`` is what an optional argument left out means.
    """

    name: str
    type: ArgType
    help: str
    optional: bool = False
    default: object = None
    choices: tuple[str, ...] = ()
    metavar: str = ""
    option: bool = False
    cli_metavar: str = ""
    rest: bool = False  # the last positional: in chat it takes the rest of the line (words joined by one space)

    @property
    def cli_name(self) -> str:
        return self.cli_metavar or self.name.upper()

    @property
    def cli_shown(self) -> str:
        """How the CLI usage line shows it: ``RECIPE``, ``[SWEEP]``, ``[--times N]``, ``{sweep,red}``."""
        name = "{" + ",".join(self.choices) + "}" if self.choices else self.cli_name
        if self.option:
            return f"[--{self.name} {name}]"
        return f"[{name}]" if self.optional else name

    @property
    def shown(self) -> str:
        if self.type.chat_pattern is not None:
            return self.metavar or self.name
        name = (self.metavar or self.name) + ("…" if self.rest else "")
        return f"[{name}]" if self.optional else f"<{name}>"

    def convert(self, value: str) -> object:
        converted = self.type.convert(value)
        if self.choices and converted not in self.choices:
            raise UsageError(f"{self.name}: {value[:40]!r} is not one of {', '.join(self.choices)}")
        return converted


@dataclass(frozen=True)
class Signature:
    """A command's arguments in order; parses chat tokens and writes the usage line."""

    name: str
    args: tuple[Arg, ...] = field(default_factory=tuple)

    def usage(self) -> str:
        shown = [a.shown if a.type.chat_pattern is None else f"[{a.shown}]" for a in self.args]
        return " ".join([self.name, *shown])

    @property
    def rest(self) -> Arg | None:
        """The argument that takes the rest of a chat line, if any."""
        return next((a for a in self.args if a.rest), None)

    @property
    def max_tokens(self) -> int:
        """How many chat tokens the command can take (a rest-of-line argument takes many)."""
        return len(self.args) - 1 + REST_TOKENS if self.rest is not None else len(self.args)

    @property
    def max_chars(self) -> int:
        """The longest single token any of its arguments accepts."""
        return max((a.type.max_chars for a in self.args), default=0)

    def parse(self, tokens: Sequence[str]) -> dict[str, object]:
        """Chat tokens → values by argument name; defaults for what was left out."""
        rest = self.rest
        if rest is not None:
            at = self.args.index(rest)
            tokens = [*tokens[:at], " ".join(tokens[at:])] if len(tokens) > at else list(tokens)
        low = sum(1 for a in self.args if not a.optional)
        high = len(self.args)
        if not low <= len(tokens) <= high:
            wanted = f"{low}" if low == high else f"{low} to {high}"
            wanted += " or more" if rest is not None else ""
            raise UsageError(f"`{self.name}` takes {wanted} argument(s), got {len(tokens)}")
        positional = [a for a in self.args if a.type.chat_pattern is None]
        marked = [a for a in self.args if a.type.chat_pattern is not None]
        values: dict[str, object] = {}
        for token in tokens:
            arg, raw = self._marked(marked, values, token)
            if arg is None:
                if not positional:
                    raise UsageError(f"unexpected argument {token[:40]!r}")
                arg, raw = positional.pop(0), token
            values[arg.name] = arg.convert(raw)
        for arg in self.args:
            if arg.name not in values:
                if not arg.optional:
                    raise UsageError(f"`{self.name}` needs {arg.shown}")
                values[arg.name] = arg.default
        return values

    @staticmethod
    def _marked(marked: list[Arg], values: dict[str, object], token: str) -> tuple[Arg | None, str]:
        for arg in marked:
            pattern = arg.type.chat_pattern
            match = pattern.match(token) if pattern is not None else None
            if match and arg.name not in values:
                return arg, match.group(1)
        return None, token

    def values_from(self, given: dict[str, object]) -> dict[str, object]:
        """Values parsed elsewhere (argparse: strings or None) converted as chat converts them."""
        values: dict[str, object] = {}
        for arg in self.args:
            raw = given.get(arg.name)
            values[arg.name] = arg.default if raw is None else arg.convert(str(raw))
        return values


def rest_text(name: str, help: str) -> Arg:
    """An optional note or reason: in chat the rest of the line, on the CLI ``--NAME TEXT``."""
    return Arg(name, NOTE, help, optional=True, default="", option=True, rest=True, cli_metavar="TEXT")


def recipe_scope(recipe: str, **_rest: object) -> ScanScope:
    """The CLI scans the recipe's runs first, so what an operator records is against its current failure."""
    return ScanScope(recipes=frozenset({recipe}))
