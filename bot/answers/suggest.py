"""The closest known names, for "unknown recipe" hints."""

from __future__ import annotations

import difflib

from bot.errors import BadInput


class UnknownNameError(BadInput, LookupError):
    """A name nobody knows, with the closest known ones."""

    def __init__(self, what: str, name: str, suggestions: list[str]) -> None:
        self.what = what
        self.name = name
        self.suggestions = suggestions
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"unknown {what} {name!r}{hint}")


def closest(name: str, known: list[str], n: int = 3) -> list[str]:
    """Close matches by similarity, then by prefix/substring, without duplicates."""
    lowered = {k.lower(): k for k in known}
    found = [lowered[m] for m in difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.5)]
    found += [k for k in known if name.lower() in k.lower() or k.lower().startswith(name.lower()[:3])]
    return list(dict.fromkeys(found))[:n]
