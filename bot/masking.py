"""Masking known secret values in text before it is shown, e.g. log lines on an evidence page.

Each secret is also searched in the spellings it takes on the way out — HTML-escaped, JSON-escaped,
URL-quoted — so a whole rendered page, JSON answer or chat body can be masked at the last step
whatever was escaped before it (a page's name in a link, a tier name as a JSON key).

All secrets are searched with one compiled regex, so a page costs one pass whatever the number of
secrets, and text with no secret in it is returned untouched (the same object). Where occurrences
overlap or touch (``abcdef`` and ``defghi`` in ``abcdefghi``) their union is masked, so no part of
either secret survives. Every mask has the same width, so it does not tell a secret's length.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

MASK = "••••••"
MIN_SECRET_CHARS = 4  # shorter values would mask ordinary words and numbers all over a log


def _spellings(text: str) -> set[str]:
    """``text`` as it reads once escaped for HTML, JSON or a URL."""
    return {
        text,
        html.escape(text),
        html.escape(text, quote=False),
        json.dumps(text, ensure_ascii=False)[1:-1],
        json.dumps(text)[1:-1],
        quote(text, safe=""),
        quote(text, safe="/"),
    }


def _needles(secrets: Iterable[str]) -> list[str]:
    """The strings to search for: each secret, and each line of a multi-line one, in every spelling.

    Pages are masked a line at a time, where a multi-line secret (a PEM key) never appears whole.
    """
    found: set[str] = set()
    for secret in secrets:
        if not secret:
            continue
        parts = {secret}
        if "\n" in secret:
            parts.update(line.strip() for line in secret.splitlines())
        for part in parts:
            if len(part) >= MIN_SECRET_CHARS:
                found.update(_spellings(part))
    return [s for s in found if len(s) >= MIN_SECRET_CHARS]


class Masker:
    """Replaces every occurrence of any of ``secrets`` (those of at least 4 characters) with :data:`MASK`."""

    def __init__(self, secrets: Iterable[str]) -> None:
        needles = sorted(_needles(secrets), key=lambda s: (-len(s), s))
        self.count = len(needles)
        # Longest first, so at any position the longest secret starting there is the one matched; the
        # lookahead finds matches at every position, overlapping ones included.
        alternation = "|".join(re.escape(s) for s in needles)
        self._any = re.compile(alternation) if needles else None
        self._at = re.compile(f"(?=({alternation}))") if needles else None

    def mask(self, text: str) -> str:
        if self._any is None or self._at is None or self._any.search(text) is None:
            return text
        spans: list[list[int]] = []
        for match in self._at.finditer(text):
            start, end = match.start(), match.end(1)
            if spans and start <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], end)
            else:
                spans.append([start, end])
        parts: list[str] = []
        pos = 0
        for start, end in spans:
            parts.append(text[pos:start])
            parts.append(MASK)
            pos = end
        parts.append(text[pos:])
        return "".join(parts)

    @classmethod
    def from_environment(cls, var_names: Iterable[str], environ: Mapping[str, str] | None = None) -> Masker:
        """A masker for the values of the named environment variables (unset ones skipped)."""
        env = os.environ if environ is None else environ
        return cls(env[name] for name in var_names if name in env)


def mask_content(masker: Masker, value: Any) -> Any:
    """Mask every string inside a JSON-shaped value (chat message contents, API answers)."""
    if masker.count == 0:
        return value
    if isinstance(value, str):
        return masker.mask(value)
    if isinstance(value, dict):
        return {mask_content(masker, k): mask_content(masker, v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_content(masker, v) for v in value]
    return value
