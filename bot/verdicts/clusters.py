"""Failure clustering: the same failure in several recipes of one sweep is one problem, not many.

Failure text is normalised (hex ids, UUIDs, timestamps, domains, IPs, paths' numbers, quoted names of
the recipe itself) so that "manifest for ghcr.io/a/b:1.2 not found" in two recipes groups together.
The text is the recipe's tests': every pattern here is RE2 (:mod:`bot.linear_regex`), linear in it.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.linear_regex import LinearPattern, linear
from bot.model.records import Cluster

_RULES: tuple[tuple[LinearPattern, str], ...] = (
    (linear(r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
    (linear(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?"), "<time>"),
    (linear(r"\b\d{8}T\d{6}Z\b"), "<time>"),
    (linear(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b"), "<ip>"),
    (linear(r"(?i)\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:org|com|net|io|dev|cloud|social)\b(?:/\S*)?"), "<host>"),
    (linear(r"(?i)\b0x[0-9a-f]+\b|\b[0-9a-f]{7,64}\b"), "<hex>"),
    (linear(r"\d+(?:\.\d+)*"), "<n>"),
)
_SPACES = linear(r"\s+")
KEY_CHARS = 300  # a normalised message is cut to this
# The first line is cut here before blanking, so a 20,000-character line costs what a 2,000-character one
# does; the key is the same unless blanking shrinks those 2,000 characters below 300 (long whitespace runs).
LINE_CHARS = 2000


def normalize(text: str, recipe: str | None = None) -> str:
    """The shape of a failure message, with the details that differ between recipes blanked out."""
    line = text.strip().splitlines()[0][:LINE_CHARS] if text.strip() else ""
    if recipe:
        line = line.replace(recipe, "<recipe>")
    for pattern, replacement in _RULES:
        line = pattern.sub(replacement, line)
    return _SPACES.sub(" ", line).strip()[:KEY_CHARS]


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
_MACHINERY: tuple[tuple[str, LinearPattern], ...] = (
    ("backups", linear(r"(?i)backupbot|restic|\bbackup repository|snapshot")),
    ("the proxy", linear(r"(?i)traefik|reverse proxy|\bproxy\b|Bad Gateway|Gateway Time-?out|\b50[234]\b")),
    (
        "the node",
        linear(
            r"(?i)docker daemon|Docker daemon|swarm|no space left|No space left|deadline|\bnode\b|dns|"
            r"No such image|task.*(?:rejected|failed)|OOM|out of memory"
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
