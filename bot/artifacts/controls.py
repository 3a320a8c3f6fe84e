"""Control characters in text from a run dir: detected in names, made visible in messages.

A recipe, version, run or test name with a newline, an escape sequence or a bidi override could forge
lines in a terminal, a chat message or a page. Names are identifiers: one with such a character is
refused (recipe, version, run) or shown escaped (test names). Free text (failure messages) keeps its
newlines and tabs; every other control character is shown as ``\\xNN`` / ``\\uNNNN``.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, line/paragraph separators, bidi embeddings/overrides/isolates, BOM.
_CONTROLS = "\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\ufeff"
_ANY = re.compile(f"[{_CONTROLS}]")
_IN_TEXT = re.compile(f"[{_CONTROLS.replace(chr(0x1F), chr(8) + chr(0x0B) + '-' + chr(0x1F), 1)}]")  # not \t \n


def has_controls(text: str) -> bool:
    """Whether ``text`` holds a character that can change how the text around it is displayed."""
    return _ANY.search(text) is not None


def _visible(match: re.Match[str]) -> str:
    code = ord(match[0])
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_name(text: str) -> str:
    """A name with every control character shown as an escape (``a\\nb`` → ``a\\x0ab``)."""
    return _ANY.sub(_visible, text)


def escape_text(text: str) -> str:
    """Free text with newlines and tabs kept and every other control character shown as an escape."""
    return _IN_TEXT.sub(_visible, text)
