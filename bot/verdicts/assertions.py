"""What a failed assertion wanted, read from the whole JUnit failure text (message and body).

A test's own words come first and the comparison after them (pytest puts a custom message on the first
line, then ``assert 'a' == 'b'`` and its diff lines), and unittest, PyHamcrest and hand-written
``expected X but was Y`` messages each have their own shape; reading only a message's first line
misses most of them. This module is pure: text in, an :class:`Expectation` (values the wanted state
has that the seen one lacks, and values it drops) out. Left of pytest's ``==`` and first of
unittest's ``!=`` are taken as what was seen, by the conventions ``assert actual == expected`` and
``assertEqual(actual, expected)``; a reversed test only makes the stale-test search find the
"expected" value in a release, so it costs a finding, never a wrong one.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from bot.linear_regex import LinearMatch, linear

_TOKENISH = linear(r"^[^\s'\"]{3,200}$")
_CONFIG_SHAPED = linear(r"[/:._\d-]")
_MAX_LITERAL = 4000


@dataclass(frozen=True)
class Expectation:
    """What an assertion wanted, as things to look for in the recipe."""

    test: str
    expected: str  # as written in the assertion, for the reason sentence
    must_exist: tuple[str, ...]  # values the expected state contains that the actual one does not
    must_be_gone: tuple[str, ...]  # values the expected state drops from the actual one


@dataclass(frozen=True)
class _Found:
    expected: str
    must_exist: tuple[str, ...] = ()
    must_be_gone: tuple[str, ...] = ()


_MISSING = object()


def _literal(text: str) -> object:
    """A Python literal as pytest/unittest print it, or a bare config-shaped token; else _MISSING."""
    text = text.strip()
    if text.startswith("<") and text.endswith(">"):  # hamcrest wraps non-string values: <['a', 'b']>
        text = text[1:-1]
    if not text or len(text) > _MAX_LITERAL or "..." in text:  # pytest/unittest cut long reprs with '...'
        return _MISSING
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        bare = text.strip("'\"")
        return bare if _TOKENISH.match(bare) else _MISSING


def _tokenish(value: object) -> bool:
    """Worth searching for: no whitespace and shaped like config (``/``, ``:``, ``.``, digits), not a word."""
    return isinstance(value, str) and bool(_TOKENISH.match(value)) and bool(_CONFIG_SHAPED.search(value))


def _items(value: object) -> list[str] | None:
    """The string members of a list/tuple/set, or a dict's keys; None for a scalar."""
    if isinstance(value, dict):
        return [k for k in value if isinstance(k, str)]
    if isinstance(value, list | tuple | set | frozenset):
        return [v for v in value if isinstance(v, str)]
    return None


def _compare(actual: object, expected: object, written: str) -> _Found | None:
    """An equality that failed: what the expected side adds to and drops from the actual side.

    A config-shaped expected value is enough on its own (the seen side may have been cut short)."""
    if expected is _MISSING or actual == expected:
        return None
    if _tokenish(expected):
        return _Found(str(expected), (str(expected),))
    if actual is _MISSING:
        return None
    if isinstance(actual, dict) and isinstance(expected, dict):
        changed = [v for k, v in expected.items() if k in actual and actual[k] != v and _tokenish(v)]
        added = [k for k in expected if k not in actual and isinstance(k, str)] + changed
        dropped = [k for k in actual if k not in expected and isinstance(k, str)]
        return _Found(written, tuple(added), tuple(dropped)) if added or dropped else None
    have, want = _items(actual), _items(expected)
    if have is not None and want is not None:
        added = [v for v in want if v not in have]
        dropped = [v for v in have if v not in want]
        return _Found(written, tuple(added), tuple(dropped)) if added or dropped else None
    return None


def _member(item: object, wanted: bool) -> _Found | None:
    """``item in container`` (or ``not in``) failed: a member, like a list item, may be a plain name."""
    if not isinstance(item, str) or not _TOKENISH.match(item):
        return None
    return _Found(item, (item,), ()) if wanted else _Found(f"no {item}", (), (item,))


# -- the shapes, most specific first; each reads the whole text ---------------------------------------

# All RE2 (bot.linear_regex): the text is the recipe's, and Python's re spent seconds on one line of spaces.
_PYTEST_MORE_ITEMS = linear(
    r"(?m)^\s*(?P<side>Left|Right) contains (?:one|\d+) more items?(?:, first extra item)?:\s*(?P<v>.+?)\s*$"
)
_PYTEST_EXTRA_ITEMS = linear(r"(?m)^\s*Extra items in the (?P<side>left|right) set:\n(?P<block>(?:\s*\S.*\n?)+)")
_PYTEST_NEXT_SECTION = linear(r"^\s*(?:Extra items|Use -v|Full diff)")
_PYTEST_DIFFERING = linear(r"(?m)^\s*Differing items:\n\s*(?P<a>\{.*\}) != (?P<b>\{.*\})\s*$")
_PYTEST_ASSERT = linear(r"(?m)^\s*assert (?P<rest>.+?)\s*$")
_UNITTEST_SECOND_SET = linear(r"(?m)^\s*Items in the second set but not the first:\n(?P<block>(?:.+\n?)+)")
_UNITTEST_FIRST_SET = linear(r"(?m)^\s*Items in the first set but not the second:\n(?P<block>(?:.+\n?)+)")
_UNITTEST_MEMBER = linear(r"(?m)^\s*(?P<item>.+?) (?P<how>not found|unexpectedly found) in .+$")
_UNITTEST_NE = linear(r"(?m)^\s*(?:(?:Lists|Tuples|Sequences) differ:\s*)?(?P<a>.+?) != (?P<b>.+?)\s*$")
_UNITTEST_EXTRA = linear(
    r"(?m)^\s*(?P<which>First|Second) \w+ contains \d+ additional elements?\.\nFirst extra element \d+:\n(?P<v>.+)$"
)


def _pytest_explanation(text: str) -> _Found | None:
    """pytest's diff lines, which survive its cutting of long reprs on the ``assert`` line."""
    added: list[str] = []
    dropped: list[str] = []
    for m in _PYTEST_MORE_ITEMS.finditer(text):
        value = _literal(m["v"])
        keys = _items(value) if isinstance(value, dict) else None
        values = keys if keys is not None else ([value] if isinstance(value, str) else [])
        (dropped if m["side"] == "Left" else added).extend(values)
    for m in _PYTEST_EXTRA_ITEMS.finditer(text):
        for line in m["block"].splitlines():
            if _PYTEST_NEXT_SECTION.match(line):
                break
            value = _literal(line)
            if isinstance(value, str):
                (dropped if m["side"] == "left" else added).append(value)
    for m in _PYTEST_DIFFERING.finditer(text):
        found = _compare(_literal(m["a"]), _literal(m["b"]), m["b"])
        if found is not None:
            added += found.must_exist
            dropped += found.must_be_gone
    if not added and not dropped:
        return None
    written = ", ".join([*added, *(f"no {v}" for v in dropped)])
    return _Found(written, tuple(dict.fromkeys(added)), tuple(dict.fromkeys(dropped)))


def _pytest_assert(text: str) -> _Found | None:
    """``assert A == B``, ``assert A in B``, ``assert A not in B`` as pytest rewrites them."""
    for m in _PYTEST_ASSERT.finditer(text):
        rest = m["rest"]
        for op in (" == ", " not in ", " in "):
            left, sep, right = rest.partition(op)
            if not sep:
                continue
            found = (
                _compare(_literal(left), _literal(right), right.strip())
                if op == " == "
                else _member(_literal(left), op == " in ")
            )
            if found is not None:
                return found
            break
    return None


def _unittest(text: str) -> _Found | None:
    """unittest's messages: ``A != B`` (and ``Lists differ: A != B``), sets, ``in``, ``not in``."""
    m = _UNITTEST_SECOND_SET.search(text)
    n = _UNITTEST_FIRST_SET.search(text)
    if m or n:

        def block(found: LinearMatch | None) -> tuple[str, ...]:
            if found is None:
                return ()
            values = []
            for line in found["block"].splitlines():
                if line.startswith("Items in"):
                    break
                value = _literal(line)
                if isinstance(value, str):
                    values.append(value)
            return tuple(values)

        added, dropped = block(m), block(n)
        if added or dropped:
            return _Found(", ".join([*added, *(f"no {v}" for v in dropped)]), added, dropped)
    found = _UNITTEST_MEMBER.search(text)
    if found:
        return _member(_literal(found["item"]), found["how"] == "not found")
    ne = _unittest_ne(text)
    if ne:
        exact = _compare(_literal(ne["a"]), _literal(ne["b"]), ne["b"].strip())
        if exact is not None:
            return exact
    extra = _UNITTEST_EXTRA.search(text)
    if extra:
        value = _literal(extra["v"])
        if isinstance(value, str):
            return _Found(value, (value,), ()) if extra["which"] == "Second" else _Found(f"no {value}", (), (value,))
    return None


def _unittest_ne(text: str) -> LinearMatch | None:
    """The first ``A != B`` line that is not pytest's ``assert A != B`` (RE2 has no lookahead to say so)."""
    return next((m for m in _UNITTEST_NE.finditer(text) if not m[0].lstrip().startswith("assert ")), None)


_HAMCREST = linear(r"(?m)^\s*Expected: (?P<want>.+?)\s*\n\s*but: (?:but )?(?P<got>.+?)\s*$")
_HAMCREST_CONTAINING = linear(r"^(?P<neg>not )?an? (?:sequence|collection|iterable|list) containing (?P<v>.+)$")
_HAMCREST_ENTRY = linear(r"^a dictionary containing \[(?P<k>.+?): (?P<v>.+)\]$")


def _hamcrest(text: str) -> _Found | None:
    """PyHamcrest's ``Expected: X`` / ``but: was Y``."""
    m = _HAMCREST.search(text)
    if not m:
        return None
    want, got = m["want"], m["got"]
    contains = _HAMCREST_CONTAINING.match(want)
    if contains:
        return _member(_literal(contains["v"]), not contains["neg"])
    entry = _HAMCREST_ENTRY.match(want)
    if entry:
        value = _literal(entry["v"])
        return _Found(str(value), (str(value),)) if _tokenish(value) else None
    if not got.startswith("was "):
        return None
    return _compare(_literal(got[4:]), _literal(want), want)


_PROSE = linear(
    r"(?i)\bexpected:?\s+(?:(?:an?|the)\s+)?(?:[a-z]+\s+){0,2}?(?P<want>[^\s,;]+?)[,;]?\s+"
    r"(?:but\s+|,\s*)?(?:got|found|was|is|saw|actual(?:ly)?:?)\s+(?P<got>[^\s,;]+)"
)


def _prose(text: str) -> _Found | None:
    """Hand-written ``expected X, got Y`` / ``expected image X but was Y`` / ``Expected: X, actual: Y``."""
    for m in _PROSE.finditer(text):
        want, got = _literal(m["want"]), _literal(m["got"])
        found = _compare(got, want, str(want))
        if found is not None:
            return found
    return None


_SHAPES: tuple[Callable[[str], _Found | None], ...] = (
    _hamcrest,
    _pytest_explanation,
    _pytest_assert,
    _unittest,
    _prose,
)


_RAISED = linear(r"(?m)^[\w.]*(?:Error|Exception|Failure)\b:?")
_EXCEPTION_NAME = linear(r"(?m)^(\s*)[\w.]*(?:Error|Exception|Failure):[ \t]*")


def _texts(message: str, body: str) -> Iterator[str]:
    """The message; the body's ``E`` lines (pytest's traceback); else the body from its last exception line
    on (other JUnit writers), never the quoted source lines above it."""
    yield message
    e_lines = [line[1:].removeprefix(" " * 7) for line in body.splitlines() if line.startswith("E ") or line == "E"]
    if e_lines:
        yield "\n".join(e_lines)
        return
    raised = list(_RAISED.finditer(body))
    if raised:
        yield body[raised[-1].start() :]


def parse_expectation(test: str, message: str, body: str = "") -> Expectation | None:
    """What the failing assertion of ``test`` wanted, from its JUnit message and body; None if unreadable."""
    for raw in _texts(message, body):
        text = _EXCEPTION_NAME.sub(lambda m: m[1], raw)  # "AssertionError: 'a' != 'b'" reads as "'a' != 'b'"
        if not text.strip():
            continue
        for shape in _SHAPES:
            found = shape(text)
            if found is not None and (found.must_exist or found.must_be_gone):
                return Expectation(test, found.expected, found.must_exist, found.must_be_gone)
    return None
