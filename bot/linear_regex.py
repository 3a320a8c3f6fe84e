"""Regular expressions whose time is linear in the text: RE2 (google-re2) for every pattern that reads
run-dir text, the bot's own and the knowledge base's.

Python's ``re`` backtracks. A recipe's tests write the failure text and the log, so any pattern with two
ways to match the same characters is theirs to stall ingest with: ``^\\s*assert (?P<rest>.+?)\\s*$`` spent
about 2 s on one 16,000-character line, and an operator's ``^(\\w+\\s?)+$`` never finished on 156
characters (issue 25). RE2 never backtracks: a search costs at most the text's length times the pattern's
size (benchmarks/regex.py). Its price is its syntax: no backreferences, no lookaround, no possessive or
atomic groups, ``\\z`` instead of ``\\Z``, and ``\\w \\d \\s \\b`` are ASCII-only (``\\pL`` for letters).
Flags go inline: ``(?i)``, ``(?m)``, ``(?s)``.

This is the one module that imports ``re2`` (it has no type stubs); the rest of the bot sees
:class:`LinearPattern` and :class:`LinearMatch`. A pattern of the bot's own compiles on first use, so
importing a module that holds patterns compiles none it does not use.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, cast

import re2


class LinearMatch(Protocol):
    """The part of a match object the bot uses; typed as :class:`re.Match` is (an unmatched group is None)."""

    def __getitem__(self, group: int | str, /) -> str | Any: ...

    def group(self, group: int | str = 0, /) -> str | Any: ...

    def start(self, group: int = 0, /) -> int: ...

    def end(self, group: int = 0, /) -> int: ...


@dataclass(frozen=True)
class PatternRefused:
    """A pattern RE2 cannot run, and why, in words for the operator who wrote it."""

    pattern: str
    reason: str
    invalid: bool = True  # False: a valid regular expression that needs a feature RE2 leaves out


class LinearPattern:
    """An RE2 pattern, compiled on first use (a compile error then is a bug in the bot's own pattern)."""

    __slots__ = ("_compiled", "pattern")

    def __init__(self, pattern: str, compiled: Any = None) -> None:
        self.pattern = pattern
        self._compiled = compiled

    def __repr__(self) -> str:
        return f"LinearPattern({self.pattern!r})"

    def _re2(self) -> Any:
        if self._compiled is None:
            compiled = _re2_compile(self.pattern)
            if isinstance(compiled, PatternRefused):
                raise ValueError(f"{self.pattern!r}: {compiled.reason}")
            self._compiled = compiled
        return self._compiled

    def compile(self) -> LinearPattern:
        """Compile now (tests do, for every pattern the bot ships); returns itself."""
        self._re2()
        return self

    def search(self, text: str) -> LinearMatch | None:
        return cast("LinearMatch | None", self._re2().search(_encodable(text)))

    def match(self, text: str) -> LinearMatch | None:
        """A match that starts at the start of ``text`` (as :meth:`re.Pattern.match`)."""
        return cast("LinearMatch | None", self._re2().match(_encodable(text)))

    def fullmatch(self, text: str) -> LinearMatch | None:
        return cast("LinearMatch | None", self._re2().fullmatch(_encodable(text)))

    def finditer(self, text: str) -> Iterator[LinearMatch]:
        return cast("Iterator[LinearMatch]", self._re2().finditer(_encodable(text)))

    def sub(self, repl: str | Callable[[LinearMatch], str], text: str) -> str:
        """Replace every match; a string ``repl`` is taken literally (no ``\\1``: pass a function for groups)."""
        if isinstance(repl, str):
            literal = repl
            return cast(str, self._re2().sub(lambda _m: literal, _encodable(text)))
        return cast(str, self._re2().sub(repl, _encodable(text)))


_SURROGATE = re.compile("[\ud800-\udfff]")  # one character class: linear in Python's re too


def _encodable(text: str) -> str:
    """``text`` as RE2 can take it (UTF-8): a lone surrogate, which a file name or a JSON escape can carry,
    becomes U+FFFD, one character for one, so positions in the text stay the same."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def linear(pattern: str) -> LinearPattern:
    """A pattern of the bot's own, compiled when first used."""
    return LinearPattern(pattern)


# RE2's own words for what it lacks, and what to write instead.
_HINTS: tuple[tuple[str, str], ...] = (
    ("invalid perl operator: (?=", "lookahead (?=…) is not supported"),
    ("invalid perl operator: (?!", "negative lookahead (?!…) is not supported"),
    ("invalid perl operator: (?<=", "lookbehind (?<=…) is not supported"),
    ("invalid perl operator: (?<!", "negative lookbehind (?<!…) is not supported"),
    ("invalid perl operator: (?>", "atomic groups (?>…) are not supported"),
    ("invalid perl operator: (?P", "named backreferences (?P=…) are not supported"),
    ("invalid perl operator: (?#", "comments (?#…) are not supported"),
    ("invalid perl operator: (?x", "verbose mode (?x) is not supported"),
    ("invalid escape sequence: \\Z", "write \\z for the end of the text"),
    ("bad repetition operator: *+", "possessive quantifiers (*+ ++ ?+) are not supported"),
    ("bad repetition operator: ++", "possessive quantifiers (*+ ++ ?+) are not supported"),
    ("bad repetition operator: ?+", "possessive quantifiers (*+ ++ ?+) are not supported"),
    ("pattern too large", "the compiled pattern is over RE2's memory budget; make counted repeats smaller"),
    ("invalid repetition size", "counted repeats go up to {1000}, nested ones multiplied"),
)
_BACKREFERENCE = re.compile(r"invalid escape sequence: \\[1-9]")


def _explain(error: str) -> str:
    """RE2's message, led by what it means when it names a feature RE2 leaves out."""
    hint = "backreferences (\\1 …) are not supported" if _BACKREFERENCE.search(error) else None
    hint = hint or next((h for needle, h in _HINTS if needle in error), None)
    return f"{hint} (RE2: {error})" if hint else f"RE2: {error}"


def _re2_compile(pattern: str) -> Any:
    """RE2's compiled pattern, or :class:`PatternRefused` with RE2's reason."""
    options = re2.Options()
    options.log_errors = False  # the reason is returned; RE2 would also print it to stderr
    try:
        return re2.compile(pattern, options)
    except UnicodeEncodeError:  # a YAML "\ud800" escape
        return PatternRefused(pattern, "a lone surrogate (an escape like \\ud800) is not a character")
    except re2.error as exc:
        raw = exc.args[0] if exc.args else "refused"
        return PatternRefused(pattern, _explain(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)))


def compile_signature(pattern: str) -> LinearPattern | PatternRefused:
    """An operator's pattern (a knowledge-base signature; later a taught one), compiled for RE2 now.

    :class:`PatternRefused` says why in the operator's terms: a pattern Python's ``re`` accepts but RE2 cannot run
    (a backreference, lookaround, …) is "not supported by RE2", anything else "invalid"."""
    compiled = _re2_compile(pattern)
    if not isinstance(compiled, PatternRefused):
        return LinearPattern(pattern, compiled)
    try:
        re.compile(pattern)
    except (re.error, OverflowError, RecursionError):
        return PatternRefused(pattern, f"invalid regular expression ({compiled.reason})")
    return PatternRefused(pattern, f"RE2, the linear-time engine, cannot run it: {compiled.reason}", invalid=False)
