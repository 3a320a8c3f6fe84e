"""What a recipe name may be: the one rule ingest, the rerun queue and the command arguments share."""

from __future__ import annotations

import re

# Co-op Cloud's recipe names: lowercase letters, digits, '.', '_', '-', starting with a letter or a digit.
# A name is an argv element (`abra recipe checkout {recipe}`), an environment value and a path part on
# the CI node, so nothing else is one: no '/', no leading '-' (an option) or '.' (`..`, a hidden file).
_RECIPE_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
RECIPE_NAME_RULE = "lowercase letters, digits, '.', '_', '-'; starting with a letter or digit; at most 64"


def is_recipe_name(name: str) -> bool:
    """Whether ``name`` is spelled as a recipe name (see ``RECIPE_NAME_RULE``); the whole string must match."""
    return _RECIPE_NAME.fullmatch(name) is not None
