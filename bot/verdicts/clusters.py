"""Failure clustering: the same failure in several recipes of one sweep is one problem, not many.

Failure text is normalised (hex ids, UUIDs, timestamps, domains, IPs, paths' numbers, quoted names of
the recipe itself) so that "manifest for ghcr.io/a/b:1.2 not found" in two recipes groups together.
"""

from __future__ import annotations

import re

from bot.model import Cluster

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<uuid>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?"), "<time>"),
    (re.compile(r"\b\d{8}T\d{6}Z\b"), "<time>"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b"), "<ip>"),
    (
        re.compile(r"\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:org|com|net|io|dev|cloud|social)\b(?:/\S*)?", re.I),
        "<host>",
    ),
    (re.compile(r"\b0x[0-9a-f]+\b|\b[0-9a-f]{7,64}\b", re.I), "<hex>"),
    (re.compile(r"\d+(?:\.\d+)*"), "<n>"),
)


def normalize(text: str, recipe: str | None = None) -> str:
    """The shape of a failure message, with the details that differ between recipes blanked out."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    if recipe:
        line = line.replace(recipe, "<recipe>")
    for pattern, replacement in _RULES:
        line = pattern.sub(replacement, line)
    return re.sub(r"\s+", " ", line).strip()[:300]


def cluster(failures: list[tuple[str, str]], min_recipes: int = 2) -> list[Cluster]:
    """Group ``(recipe, message)`` pairs by normalised message; keep groups of ``min_recipes`` or more."""
    groups: dict[str, set[str]] = {}
    for recipe, message in failures:
        key = normalize(message, recipe)
        if key:
            groups.setdefault(key, set()).add(recipe)
    found = [Cluster(key, tuple(sorted(recipes))) for key, recipes in groups.items() if len(recipes) >= min_recipes]
    return sorted(found, key=lambda c: (-len(c.recipes), c.signature))
