"""Stale-test detection: does the value an overlay test expects exist in any release of the recipe?

The case behind it (discourse on cc-ci): an overlay test demanded ``discourse/discourse:3.5.3`` and
no sidekiq, a state that exists in no release tag and not in main. Such a test can never pass on a
release, so the red is the test's, not the recipe's. The assertion is read by
:mod:`bot.verdicts.assertions`; the search runs git in the recipe clone through a subprocess with an
argv list (never a shell string, :mod:`bot.artifacts.gitrun`).

A value is looked for at each release tag and on main in two ways: as written in any file (``git grep``),
and in the recipe's effective compose there (:mod:`bot.artifacts.compose`: every file ``COMPOSE_FILE``
names, merged, with ``${VAR:-default}`` filled in from the run's app env and from that ref's
``.env.sample``), because recipes pin images through env defaults (``org/app:${APP_VERSION:-1.0.4}``) that
no file spells out. A value the test wants gone (a dropped service) must be absent from every rendering
of the effective compose; where none could be read in full, from every compose file as written.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Protocol

from bot.artifacts.appenv import AppEnv
from bot.artifacts.gitrun import git
from bot.artifacts.junit import suite_file
from bot.model.records import Failure
from bot.verdicts.assertions import Expectation, parse_expectation

if TYPE_CHECKING:
    from bot.artifacts.compose import EffectiveCompose

_MAIN_REFS = ("main", "master", "origin/main", "origin/master")
_COMPOSE = ("compose.yml", "compose.*.yml", "docker-compose.yml")

__all__ = [
    "Expectation",
    "GitRecipeSearch",
    "RecipeSearch",
    "StaleFinding",
    "is_overlay",
    "overlay_test_path",
    "parse_expectation",
]

OVERLAY_SOURCE = "cc-ci"  # the JUnit source of cc-ci's own tests, kept in cc-ci as tests/<recipe>/<file>.py


def is_overlay(f: Failure) -> bool:
    """Whether the failing test is one of cc-ci's overlay tests (not the recipe's own)."""
    return f.source == OVERLAY_SOURCE


def overlay_test_path(recipe: str, f: Failure) -> str | None:
    """Where an overlay test lives in cc-ci's repository (``tests/<recipe>/<file>.py``, the file named by
    its JUnit file ``<tier>__cc-ci__<file>.xml``); None for the recipe's own tests or another name."""
    stem = suite_file(PurePosixPath(f.junit_file).name) if is_overlay(f) else None
    if not stem or "/" in stem or stem.startswith("."):
        return None
    return f"tests/{recipe}/{stem}.py"


class Presence(StrEnum):
    """Where in a recipe clone the state a test expects exists."""

    RELEASED = "released"  # in a release tag: the test is right
    MAIN_ONLY = "main-only"  # only on main, unreleased: the test is ahead of the release
    NOWHERE = "nowhere"  # in no tag and not on main: the test is stale


@dataclass(frozen=True)
class StaleFinding:
    """Where the state a test expects exists in the recipe clone."""

    test: str
    expected: str
    where: Presence
    tags_checked: int
    main_ref: str | None
    found_in: tuple[str, ...]
    clone: str


class RecipeSearch(Protocol):
    """Injected into the classifier so verdicts stay testable without git."""

    def check(self, clone: Path, expectation: Expectation, app_env: AppEnv | None = None) -> StaleFinding | None: ...


def _holding(rendered: dict[str, list[EffectiveCompose]], value: str) -> set[str]:
    """Refs at which some rendering of the effective compose has ``value`` in a name, key or value."""
    return {ref for ref, views in rendered.items() if any(value in s for view in views for s in view.strings())}


class GitRecipeSearch:
    """Searches every release tag and main of a recipe clone: files as written and the effective compose."""

    def check(self, clone: Path, expectation: Expectation, app_env: AppEnv | None = None) -> StaleFinding | None:
        if not (clone / ".git").exists():
            return None
        try:
            tags = [t for t in git(clone, ["tag", "--list"]).stdout.split() if t]
            main_ref = next(
                (
                    r
                    for r in _MAIN_REFS
                    if git(clone, ["rev-parse", "--verify", "--quiet", f"{r}^{{commit}}"]).returncode == 0
                ),
                None,
            )
            revs = [*tags, *([main_ref] if main_ref else [])]
            if not revs:
                return None
            from bot.artifacts.compose import read_at_refs  # here: it loads PyYAML, which a `why` link never needs

            rendered = read_at_refs(clone, revs, clone.name, app_env)
            unread = {r for r in revs if not any(view.complete for view in rendered.get(r, []))}
            holds = set(revs)
            for value in expectation.must_exist:
                holds &= self._revs_containing(clone, value, revs, ()) | _holding(rendered, value)
            for value in expectation.must_be_gone:
                holds -= _holding(rendered, value) | self._revs_containing(clone, value, unread, _COMPOSE)
        except (OSError, subprocess.SubprocessError):
            return None
        released = sorted(holds & set(tags))
        where = Presence.RELEASED if released else (Presence.MAIN_ONLY if main_ref in holds else Presence.NOWHERE)
        return StaleFinding(
            test=expectation.test,
            expected=expectation.expected,
            where=where,
            tags_checked=len(tags),
            main_ref=main_ref,
            found_in=tuple(sorted(holds)),
            clone=str(clone),
        )

    def _revs_containing(self, clone: Path, value: str, revs: Iterable[str], paths: Sequence[str]) -> set[str]:
        wanted = sorted(revs)
        if not wanted:
            return set()
        args = ["grep", "-F", "-l", "-e", value, *wanted]
        if paths:
            args += ["--", *paths]
        proc = git(clone, args)
        if proc.returncode not in (0, 1):
            raise subprocess.SubprocessError(proc.stderr.strip()[:200])
        return {line.split(":", 1)[0] for line in proc.stdout.splitlines() if ":" in line}
