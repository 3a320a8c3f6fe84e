"""Stale-test detection: does the value an overlay test expects exist in any release of the recipe?

The journal's discourse case: an overlay test demanded ``discourse/discourse:3.5.3`` and no sidekiq,
a state that exists in no release tag and not in main. Such a test can never pass on a release, so
the red is the test's, not the recipe's. The assertion is parsed here (pure); the search runs git
in the recipe clone through a subprocess with an argv list (never a shell string).
"""

from __future__ import annotations

import ast
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

_PYTEST_EQ = re.compile(r"assert (?P<actual>.+?) == (?P<expected>.+)$")
_EXPLICIT = re.compile(r"expected:? (?P<expected>\S.*?),? (?:but )?(?:got|found|was):? (?P<actual>\S.*)$", re.I)
_TOKENISH = re.compile(r"^[^\s'\"]{3,200}$")
_MAIN_REFS = ("main", "master", "origin/main", "origin/master")
_COMPOSE = ("compose.yml", "compose.*.yml", "docker-compose.yml")


@dataclass(frozen=True)
class Expectation:
    """What an assertion wanted, as things to look for in the recipe."""

    test: str
    expected: str  # as written in the assertion, for the reason sentence
    must_exist: tuple[str, ...]  # values the expected state contains that the actual one does not
    must_be_gone: tuple[str, ...]  # values the expected state drops from the actual one


def _literal(text: str) -> object:
    text = text.strip()
    if len(text) > 2000:
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text.strip("'\"") if _TOKENISH.match(text.strip("'\"")) else None


def _tokenish(value: object) -> bool:
    """Worth searching for: no whitespace and shaped like config (``/``, ``:``, ``.``, digits), not a word."""
    return isinstance(value, str) and bool(_TOKENISH.match(value)) and bool(re.search(r"[/:._\d-]", value))


def parse_expectation(test: str, message: str) -> Expectation | None:
    """Read ``assert actual == expected`` (pytest) or ``expected X, got Y`` from a failure message."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    first = re.sub(r"^\w+(?:Error|Exception):\s*", "", first)
    match = _PYTEST_EQ.search(first) or _EXPLICIT.search(first)
    if not match:
        return None
    actual, expected = _literal(match["actual"]), _literal(match["expected"])
    if isinstance(expected, list | tuple) and isinstance(actual, list | tuple):
        added = tuple(str(v) for v in expected if v not in actual and isinstance(v, str))
        dropped = tuple(str(v) for v in actual if v not in expected and isinstance(v, str))
        if added or dropped:
            return Expectation(test, match["expected"].strip(), added, dropped)
        return None
    if _tokenish(expected) and expected != actual:
        return Expectation(test, str(expected), (str(expected),), ())
    return None


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

    def check(self, clone: Path, expectation: Expectation) -> StaleFinding | None: ...


# The clone is the runner's (hostile): its .git/config must not make git run a program.
_NO_PROGRAMS = ("-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null", "-c", "protocol.allow=never")


def _git(clone: Path, args: Sequence[str], timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *_NO_PROGRAMS, "-C", str(clone), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={"GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent", "PATH": "/usr/bin:/bin:/usr/local/bin"},
    )


class GitRecipeSearch:
    """Searches every release tag and main of a recipe clone with ``git grep``."""

    def check(self, clone: Path, expectation: Expectation) -> StaleFinding | None:
        if not (clone / ".git").exists():
            return None
        try:
            tags = [t for t in _git(clone, ["tag", "--list"]).stdout.split() if t]
            main_ref = next(
                (
                    r
                    for r in _MAIN_REFS
                    if _git(clone, ["rev-parse", "--verify", "--quiet", f"{r}^{{commit}}"]).returncode == 0
                ),
                None,
            )
            revs = [*tags, *([main_ref] if main_ref else [])]
            if not revs:
                return None
            holds = set(revs)
            for value in expectation.must_exist:
                holds &= self._revs_containing(clone, value, revs, ())
            for value in expectation.must_be_gone:
                holds -= self._revs_containing(clone, value, revs, _COMPOSE)
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

    def _revs_containing(self, clone: Path, value: str, revs: list[str], paths: Sequence[str]) -> set[str]:
        args = ["grep", "-F", "-l", "-e", value, *revs]
        if paths:
            args += ["--", *paths]
        proc = _git(clone, args)
        if proc.returncode not in (0, 1):
            raise subprocess.SubprocessError(proc.stderr.strip()[:200])
        return {line.split(":", 1)[0] for line in proc.stdout.splitlines() if ":" in line}
