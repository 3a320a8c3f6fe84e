"""Reading a value back from the repr pytest or unittest printed in an assertion message.

Only what the text holds whole counts: a repr cut short (``...``, ``[N chars]``) or one Python would
read as something else (adjacent literals ``'x' 'x'`` are joined) is not a value (:data:`MISSING`).
"""

from __future__ import annotations

import ast
import io
import itertools
import tokenize

from bot.linear_regex import linear

TOKENISH = linear(r"^[^\s'\"]{3,200}$")
CONFIG_SHAPED = linear(r"[/:._\d-]")
_ELIDED = linear(r"\.\.\.|\[\d+ chars\]")  # pytest's saferepr and truncation; unittest's _common_shorten_repr
_MAX_LITERAL = 4000
MISSING = object()


def _elided(text: str) -> bool:
    """A repr pytest or unittest cut short: not the value (the test in Python first: RE2 calls cost)."""
    return "..." in text or (" chars]" in text and _ELIDED.search(text) is not None)


def literal(text: str) -> object:
    """A Python literal as pytest/unittest print it, or a bare config-shaped token; else MISSING."""
    text = text.strip()
    if text.startswith("<") and text.endswith(">"):  # hamcrest wraps non-string values: <['a', 'b']>
        text = text[1:-1]
    if not text or len(text) > _MAX_LITERAL or _elided(text):
        return MISSING
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        bare = text.strip("'\"")
        return bare if TOKENISH.match(bare) else MISSING
    return MISSING if text.count("'") + text.count('"') >= 4 and _joined_strings(text) else value


def _joined_strings(text: str) -> bool:
    """Adjacent string literals (``'x' 'x'``): Python joins them into a value the text does not hold."""
    try:
        kinds = [t.type for t in tokenize.generate_tokens(io.StringIO(text).readline) if t.string.strip()]
    except (tokenize.TokenError, SyntaxError):
        return False
    return any(a == b == tokenize.STRING for a, b in itertools.pairwise(kinds))


def tokenish(value: object) -> bool:
    """Worth searching for: no whitespace and shaped like config (``/``, ``:``, ``.``, digits), not a word."""
    return isinstance(value, str) and bool(TOKENISH.match(value)) and bool(CONFIG_SHAPED.search(value))


def items(value: object) -> list[str] | None:
    """The string members of a list/tuple/set, or a dict's keys; None for a scalar."""
    if isinstance(value, dict):
        return [k for k in value if isinstance(k, str)]
    if isinstance(value, list | tuple | set | frozenset):
        return [v for v in value if isinstance(v, str)]
    return None
