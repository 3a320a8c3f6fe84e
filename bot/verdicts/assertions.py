"""What a failed assertion wanted, read from the whole JUnit failure text (message and body).

A test's own words come first and the comparison after them (pytest puts a custom message on the first
line, then ``assert 'a' == 'b'`` and its diff lines), and unittest, PyHamcrest and hand-written
``expected X but was Y`` messages each have their own shape; reading only a message's first line
misses most of them. This module is pure: text in, an :class:`Expectation` (values the wanted state
has that the seen one lacks, and values it drops) out. Left of pytest's ``==`` and first of
unittest's ``!=`` are taken as what was seen, by the conventions ``assert actual == expected`` and
``assertEqual(actual, expected)``; a reversed test only makes the stale-test search find the
"expected" value in a release, so it costs a finding, never a wrong one.

Every tool shortens long values somewhere (tests/fixtures/assertion-shapes/ holds what pytest 7, 8, 9
and unittest really print): pytest cuts the reprs on its ``assert`` line (``'codeberg.org...ple/app:2.5.0'``)
unless run with ``-vv``, and gives the strings whole in the diff lines below, except that without ``-v``
it skips the identical start of two long strings ("Skipping 46 identical leading characters in diff",
leaving ``- e-app:3.5.3``) and outside CI cuts long explanations ("...Full output truncated"); unittest
writes ``'serv[77 chars]:3.5.0'`` on its first line and the whole values in its diff lines. So a value
is taken from whichever part carries it whole, and a value with an elision (``...``, ``[N chars]``) or a
fragment of a line is never searched for: it would be found nowhere and call a good test stale.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from bot.linear_regex import LinearMatch, linear
from bot.verdicts.reprs import MISSING, TOKENISH, items, literal, tokenish

_MAX_DEPTH = 8  # nested dicts compared this deep


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


def _found(added: list[str], dropped: list[str]) -> _Found | None:
    """The values, each once, and the reason's words for them ("x, no y"), never a cut repr."""
    want, gone = tuple(dict.fromkeys(added)), tuple(dict.fromkeys(dropped))
    if not want and not gone:
        return None
    return _Found(", ".join([*want, *(f"no {v}" for v in gone)]), want, gone)


def _difference(actual: object, expected: object, depth: int = 0) -> tuple[list[str], list[str]]:
    """What ``expected`` adds to ``actual`` and drops from it: a config-shaped value, list/set members,
    dict keys, and the same inside dict values that differ (``{'services': {'app': {'image': …}}}``)."""
    if actual == expected:
        return [], []
    if tokenish(expected):
        return [str(expected)], []
    if isinstance(actual, dict) and isinstance(expected, dict):
        added = [k for k in expected if k not in actual and isinstance(k, str)]
        dropped = [k for k in actual if k not in expected and isinstance(k, str)]
        if depth < _MAX_DEPTH:
            for k, v in expected.items():
                if k in actual and actual[k] != v:
                    more, fewer = _difference(actual[k], v, depth + 1)
                    added += more
                    dropped += fewer
        return added, dropped
    have, want = items(actual), items(expected)
    if have is not None and want is not None:
        return [v for v in want if v not in have], [v for v in have if v not in want]
    return [], []


def _compare(actual: object, expected: object) -> _Found | None:
    """An equality that failed: what the expected side adds to and drops from the actual side.

    A config-shaped expected value is enough on its own (the seen side may have been cut short)."""
    if expected is MISSING or actual == expected:
        return None
    if tokenish(expected):
        return _found([str(expected)], [])
    if actual is MISSING:
        return None
    return _found(*_difference(actual, expected))


def _member(item: object, wanted: bool) -> _Found | None:
    """``item in container`` (or ``not in``) failed: a member, like a list item, may be a plain name."""
    if not isinstance(item, str) or not TOKENISH.match(item):
        return None
    return _Found(item, (item,), ()) if wanted else _Found(f"no {item}", (), (item,))


# -- diff lines: difflib.ndiff as pytest and unittest print it ----------------------------------------

_SKIPPING = linear(r"^Skipping \d+ identical (?P<end>leading|trailing) characters in diff")
# pytest's explanation cut outside CI without -vv; pytest 9's JUnit message attribute cut at 500 characters
_TRUNCATED = linear(
    r"^(?:\.\.\.Full output truncated|\[(?:\+\d+ more lines?|truncated); full report in element text\])"
)
_UNITTEST_LEAD = 8  # lines unittest's diff may start after its first line ("First differing element" block)
_WORD_EDGES = "'\",;:()[]{}<>"
_CONFIG_CHARS = frozenset("/:._-0123456789")  # what reprs.CONFIG_SHAPED looks for
_MAX_VALUES = 64  # values taken from one text diff; fewer only make the search easier to satisfy


def _lines_from(text: str, pos: int) -> Iterator[str]:
    """The lines of ``text`` from ``pos`` on, one at a time (a reader that stops early copies nothing more)."""
    while pos < len(text):
        end = text.find("\n", pos)
        if end < 0:
            yield text[pos:]
            return
        yield text[pos:end]
        pos = end + 1


def _line_after(text: str, pos: int) -> int:
    """Where the line after the one holding ``pos`` starts (the text's length if there is none)."""
    end = text.find("\n", pos)
    return len(text) if end < 0 else end + 1


@dataclass(frozen=True)
class _Diff:
    """Both sides of an ndiff as far as it was shown: ``'  '`` both, ``'- '``/``'+ '`` one, ``'? '`` hints."""

    seen: tuple[str, ...]  # every line of the seen side shown, fragments included
    expected: tuple[str, ...]
    expected_own: tuple[str, ...]  # whole lines only the expected side has
    complete: bool  # every line of both sides shown, and whole


def _read_diff(lines: Iterator[str], expected_mark: str, indent: str, lead: int = 0) -> _Diff | None:
    """The diff that starts within the first ``lead`` lines (after ``indent``: pytest indents its explanation
    by two spaces). pytest's "Skipping N identical leading/trailing characters" makes the first/last line
    of each side a fragment; its "...Full output truncated" cuts the last line shown (ending in "..."), and
    pytest 9's "[+N more lines; full report in element text]" ends a JUnit message early."""
    rows: list[tuple[str, str]] = []
    skipped: set[str] = set()
    truncated = False
    for n, raw in enumerate(lines):
        stripped = raw.lstrip()
        if not stripped:
            continue
        if stripped.startswith(("...Full", "[")) and _TRUNCATED.match(stripped):  # (one RE2 call per line is slow)
            truncated = True
            break
        if not raw.startswith(indent):
            break
        line = raw[len(indent) :]
        skipping = _SKIPPING.match(line) if line.startswith("Skipping ") else None
        if skipping:
            skipped.add(skipping["end"])
            continue
        mark, rest = line[:2], line[2:]
        if mark == "? ":
            continue
        where = mark == "+ " and rest.lstrip().startswith("where ")  # pytest's "+  where 'x' = f()"
        if mark not in ("- ", "+ ", "  ") or where:
            if rows or n >= lead:
                break
            continue
        rows.append((mark[0], rest))
    if truncated and rows and rows[-1][1].endswith("..."):
        rows.pop()  # the line pytest cut to make room for its note
    if not rows:
        return None
    seen_mark = "+" if expected_mark == "-" else "-"
    seen = [i for i, (mark, _) in enumerate(rows) if mark in (" ", seen_mark)]
    expected = [i for i, (mark, _) in enumerate(rows) if mark in (" ", expected_mark)]
    fragments = {side[0] for side in (seen, expected) if side and "leading" in skipped}
    fragments |= {side[-1] for side in (seen, expected) if side and "trailing" in skipped}
    return _Diff(
        seen=tuple(rows[i][1] for i in seen),
        expected=tuple(rows[i][1] for i in expected),
        expected_own=tuple(rows[i][1] for i in expected if rows[i][0] == expected_mark and i not in fragments),
        complete=not truncated and not skipped,
    )


def _words(line: str) -> Iterator[str]:
    """A line's words without the quotes and punctuation around them (``image: 'org/app:1.0',`` → image, …)."""
    for word in line.split():
        word = word.strip(_WORD_EDGES)
        if word:
            yield word


def _config_word(word: str) -> bool:
    """:func:`tokenish` for a word :func:`_words` gave (no whitespace), in plain Python: a diff has many."""
    return (
        3 <= len(word) <= 200
        and "'" not in word
        and '"' not in word
        and "..." not in word
        and not _CONFIG_CHARS.isdisjoint(word)
    )


def _text_change(diff: _Diff) -> _Found | None:
    """Two strings compared through their diff: a one-line string is one value (the scalar rules); for
    longer text, the config-shaped words of whole lines only the expected text has, that the seen lacks."""
    if diff.complete and len(diff.seen) == 1 and len(diff.expected) == 1:
        return _compare(diff.seen[0], diff.expected[0])
    seen = {word for line in diff.seen for word in _words(line)}
    added: dict[str, None] = {}
    for line in diff.expected_own:
        for word in _words(line):
            if word not in seen and _config_word(word):
                added[word] = None
        if len(added) >= _MAX_VALUES:
            break
    return _found(list(added)[:_MAX_VALUES], [])


def _repr_change(diff: _Diff) -> _Found | None:
    """Two containers compared through the diff of their pprint'ed reprs: each side read back whole."""
    if not diff.complete:
        return None
    return _compare(literal("\n".join(diff.seen)), literal("\n".join(diff.expected)))


def _quoted(text: str) -> bool:
    """A str repr as written, cut or whole (``'a...b'``)."""
    text = text.strip()
    return len(text) >= 2 and text[0] == text[-1] and text[0] in "'\""


# -- the shapes, most specific first; each reads the whole text ---------------------------------------

# All RE2 (bot.linear_regex): the text is the recipe's, and Python's re spent seconds on one line of spaces.
_PYTEST_MORE_ITEMS = linear(
    r"(?m)^\s*(?P<side>Left|Right) contains (?:one|\d+) more items?(?:, first extra item)?:\s*(?P<v>.+?)\s*$"
)
_PYTEST_EXTRA_ITEMS = linear(r"(?m)^\s*Extra items in the (?P<side>left|right) set:\n(?P<block>(?:\s*\S.*\n?)+)")
_PYTEST_NEXT_SECTION = linear(r"^\s*(?:Extra items|Use -v|Full diff)")
_PYTEST_DIFFERING = linear(r"(?m)^\s*Differing items:\n\s*(?P<a>\{.*\}) != (?P<b>\{.*\})\s*$")
_PYTEST_AT_INDEX = linear(r"(?m)^\s*At index \d+ diff: (?P<a>.+?) != (?P<b>.+?)\s*$")
_PYTEST_ASSERT = linear(r"(?m)^\s*assert (?P<rest>.+?)\s*$")
_UNITTEST_SECOND_SET = linear(r"(?m)^\s*Items in the second set but not the first:\n(?P<block>(?:.+\n?)+)")
_UNITTEST_FIRST_SET = linear(r"(?m)^\s*Items in the first set but not the second:\n(?P<block>(?:.+\n?)+)")
_UNITTEST_COUNTS = linear(r"(?m)^\s*First has (?P<first>\d+), Second has (?P<second>\d+):\s+(?P<v>.+?)\s*$")
_UNITTEST_MEMBER = linear(r"(?m)^\s*(?P<item>.+?) (?P<how>not found|unexpectedly found) in .+$")
_UNITTEST_NE = linear(r"(?m)^\s*(?:(?:Lists|Tuples|Sequences) differ:\s*)?(?P<a>.+?) != (?P<b>.+?)\s*$")
_UNITTEST_EXTRA = linear(
    r"(?m)^\s*(?P<which>First|Second) \w+ contains \d+ additional elements?\.\nFirst extra element \d+:\n(?P<v>.+)$"
)
_UNITTEST_FIRST_DIFFERING = linear(r"(?m)^\s*First differing element \d+:\n(?P<a>.+)\n(?P<b>.+)$")


def _pytest_explanation(text: str) -> _Found | None:
    """pytest's summary lines under the ``assert`` line, which carry whole values in every version and at
    every verbosity (its saferepr still cuts a single item over 240 characters: such a one is skipped)."""
    added: list[str] = []
    dropped: list[str] = []
    for m in _PYTEST_MORE_ITEMS.finditer(text):
        value = literal(m["v"])
        keys = items(value) if isinstance(value, dict) else None
        values = keys if keys is not None else ([value] if isinstance(value, str) else [])
        (dropped if m["side"] == "Left" else added).extend(values)
    for m in _PYTEST_EXTRA_ITEMS.finditer(text):
        for line in m["block"].splitlines():
            if _PYTEST_NEXT_SECTION.match(line):
                break
            value = literal(line)
            if isinstance(value, str):
                (dropped if m["side"] == "left" else added).append(value)
    for m in (*_PYTEST_DIFFERING.finditer(text), *_PYTEST_AT_INDEX.finditer(text)):
        found = _compare(literal(m["a"]), literal(m["b"]))
        if found is not None:
            added += found.must_exist
            dropped += found.must_be_gone
    return _found(added, dropped)


def _pytest_assert(text: str) -> _Found | None:
    """``assert A == B``, ``assert A in B``, ``assert A not in B`` as pytest rewrites them. Two strings it
    cut on that line are read from the diff below it: ``-`` lines are the right side (expected), ``+`` the
    left (seen), as pytest prints them since 5.4 and pytest 9 says in its header."""
    diff_read = False  # once: diff lines that looked like more assert lines would be read again and again
    for m in _PYTEST_ASSERT.finditer(text):
        rest = m["rest"]
        for op in (" == ", " not in ", " in "):
            left, sep, right = rest.partition(op)
            if not sep:
                continue
            if op != " == ":
                found = _member(literal(left), op == " in ")
            else:
                found = _compare(literal(left), literal(right))
                if found is None and not diff_read and _quoted(left) and _quoted(right):
                    diff_read = True
                    diff = _read_diff(_lines_from(text, _line_after(text, m.end(1))), "-", "  ")  # 1 is "rest"
                    found = _text_change(diff) if diff else None
            if found is not None:
                return found
            break
    return None


def _unittest(text: str) -> _Found | None:
    """unittest's messages: sets, ``assertCountEqual``, ``in``, ``not in``, the first differing or extra
    element of a sequence, then ``A != B`` (and ``Lists differ: A != B``) — whole, or when unittest cut
    it (``'serv[77 chars]:3.5.0'``) from its diff lines, where ``-`` is the first (seen) and ``+`` the second."""
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
                value = literal(line)
                if isinstance(value, str):
                    values.append(value)
            return tuple(values)

        added, dropped = block(m), block(n)
        if added or dropped:
            return _Found(", ".join([*added, *(f"no {v}" for v in dropped)]), added, dropped)
    counted = _counts(text)
    if counted is not None:
        return counted
    found = _UNITTEST_MEMBER.search(text)
    if found:
        return _member(literal(found["item"]), found["how"] == "not found")
    differing = _UNITTEST_FIRST_DIFFERING.search(text)
    if differing:
        first = _compare(literal(differing["a"]), literal(differing["b"]))
        if first is not None:
            return first
    extra = _UNITTEST_EXTRA.search(text)
    if extra:
        value = literal(extra["v"])
        if isinstance(value, str):
            return _Found(value, (value,), ()) if extra["which"] == "Second" else _Found(f"no {value}", (), (value,))
    ne = _unittest_ne(text)
    if ne:
        exact = _compare(literal(ne["a"]), literal(ne["b"]))
        if exact is not None:
            return exact
        diff = _read_diff(_lines_from(text, _line_after(text, ne.end(2))), "+", "", _UNITTEST_LEAD)  # 2 is "b"
        if diff is not None:
            return _text_change(diff) if _quoted(ne["a"]) and _quoted(ne["b"]) else _repr_change(diff)
    return None


def _counts(text: str) -> _Found | None:
    """``assertCountEqual``: "First has 1, Second has 0:  'sidekiq'" (the second is what was wanted)."""
    added: list[str] = []
    dropped: list[str] = []
    for m in _UNITTEST_COUNTS.finditer(text):
        value = literal(m["v"])
        if isinstance(value, str) and (m["first"] == "0") != (m["second"] == "0"):
            (added if m["first"] == "0" else dropped).append(value)
    return _found(added, dropped)


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
        return _member(literal(contains["v"]), not contains["neg"])
    entry = _HAMCREST_ENTRY.match(want)
    if entry:
        value = literal(entry["v"])
        return _Found(str(value), (str(value),)) if tokenish(value) else None
    if not got.startswith("was "):
        return None
    return _compare(literal(got[4:]), literal(want))


_PROSE = linear(
    r"(?i)\bexpected:?\s+(?:(?:an?|the)\s+)?(?:[a-z]+\s+){0,2}?(?P<want>[^\s,;]+?)[,;]?\s+"
    r"(?:but\s+|,\s*)?(?:got|found|was|is|saw|actual(?:ly)?:?)\s+(?P<got>[^\s,;]+)"
)


def _prose(text: str) -> _Found | None:
    """Hand-written ``expected X, got Y`` / ``expected image X but was Y`` / ``Expected: X, actual: Y``."""
    for m in _PROSE.finditer(text):
        want, got = literal(m["want"]), literal(m["got"])
        found = _compare(got, want)
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
