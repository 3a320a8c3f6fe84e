"""Names: what a recipe name may be, and the closest known names for "unknown recipe" hints."""

from __future__ import annotations

import difflib
import re

# Co-op Cloud's recipe names: lowercase letters, digits, '.', '_', '-', starting with a letter or a digit.
# A name is an argv element (`abra recipe checkout {recipe}`), an environment value and a path part on
# the CI node, so nothing else is one: no '/', no leading '-' (an option) or '.' (`..`, a hidden file).
_RECIPE_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
RECIPE_NAME_RULE = "lowercase letters, digits, '.', '_', '-'; starting with a letter or digit; at most 64"


def is_recipe_name(name: str) -> bool:
    """Whether ``name`` is spelled as a recipe name (see ``RECIPE_NAME_RULE``); the whole string must match."""
    return _RECIPE_NAME.fullmatch(name) is not None


class UnknownNameError(LookupError):
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
