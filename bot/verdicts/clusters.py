"""Failure clustering: the same failure in several recipes of one sweep is one problem, not many.

Failure text is normalised (hex ids, UUIDs, timestamps, domains, IPs, paths' numbers, quoted names of
the recipe itself) so that "manifest for ghcr.io/a/b:1.2 not found" in two recipes groups together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.model.records import Cluster

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


SHARED_MIN_RECIPES = 3
# Machinery every recipe's run goes through on the node; a failure in it is not the recipe's.
_MACHINERY: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("backups", re.compile(r"backupbot|restic|\bbackup repository|snapshot", re.I)),
    ("the proxy", re.compile(r"traefik|reverse proxy|\bproxy\b|Bad Gateway|Gateway Time-?out|\b50[234]\b", re.I)),
    (
        "the node",
        re.compile(
            r"docker daemon|Docker daemon|swarm|no space left|No space left|deadline|\bnode\b|dns|"
            r"No such image|task.*(?:rejected|failed)|OOM|out of memory",
            re.I,
        ),
    ),
)
_BACKUP_TIERS = ("backup", "restore")


def machinery(tier: str, text: str) -> str | None:
    """Which shared machinery a failure is in, if any: the backup tiers exercise backupbot itself."""
    for name, pattern in _MACHINERY:
        if pattern.search(text):
            return name
    return "backups" if tier in _BACKUP_TIERS else None


def shared_causes(failures: list[tuple[str, str, str]], min_recipes: int = SHARED_MIN_RECIPES) -> list[SharedGroup]:
    """``(recipe, tier, message)`` of one sweep's red runs → groups of ``min_recipes`` or more recipes failing
    the same normalised way in the same tier, in machinery they share."""
    groups: dict[tuple[str, str], set[str]] = {}
    where: dict[tuple[str, str], str] = {}
    for recipe, tier, message in failures:
        key = (tier, normalize(message, recipe))
        place = machinery(tier, message)
        if not key[1] or place is None:
            continue
        groups.setdefault(key, set()).add(recipe)
        where[key] = place
    found = [
        SharedGroup(tier, where[(tier, text)], text, tuple(sorted(recipes)))
        for (tier, text), recipes in groups.items()
        if len(recipes) >= min_recipes
    ]
    return sorted(found, key=lambda g: (-len(g.recipes), g.tier, g.failure))


@dataclass(frozen=True)
class SharedGroup:
    tier: str
    machinery: str
    failure: str
    recipes: tuple[str, ...]
