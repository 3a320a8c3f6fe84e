"""A `learn` proposal carried in its own reply, so a 👍 on that reply can confirm it.

The reply's content gets one extra key with the request (recipe, category, pattern). The outbox keeps
every message it sent with its event id (:mod:`bot.store.chat`), so when a reaction names that event,
the request is read back from the bot's own record of what it sent — never from anything a client
sends — and survives a restart without a table of its own. The request is checked again when it is
read back, and every check of `learn` runs again before anything is written.
"""

from __future__ import annotations

from typing import Any

from bot.model.learn import LearnRequest
from bot.model.recipe_name import is_recipe_name
from bot.model.records import Category

PROPOSAL_KEY = "org.coopcloud.ccci.learn"
MAX_PATTERN_CHARS = 500


def with_proposal(content: dict[str, Any], request: LearnRequest) -> dict[str, Any]:
    marked = dict(content)
    marked[PROPOSAL_KEY] = {"recipe": request.recipe, "category": request.category.value, "pattern": request.pattern}
    return marked


def proposal_in(content: dict[str, Any] | None) -> LearnRequest | None:
    """The request a sent message proposed, or None for any other message."""
    raw = content.get(PROPOSAL_KEY) if isinstance(content, dict) else None
    if not isinstance(raw, dict):
        return None
    recipe, category, pattern = raw.get("recipe"), raw.get("category"), raw.get("pattern")
    if not isinstance(recipe, str) or not is_recipe_name(recipe):
        return None
    if not isinstance(pattern, str) or not pattern or len(pattern) > MAX_PATTERN_CHARS:
        return None
    if category not in {c.value for c in Category if c is not Category.UNKNOWN}:
        return None
    return LearnRequest(recipe, Category(category), pattern)
