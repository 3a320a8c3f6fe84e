"""What probes read, look up and find: plain data, and the protocol a probe follows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bot.model.records import Category


class ProbeName(StrEnum):
    """Which probe looked something up (the engine's rules ask for the one they trust)."""

    REGISTRY = "registry"  # an image tag, asked of its registry (bot/probes/registry.py)


class Outcome(StrEnum):
    """What a probe found about its subject."""

    ABSENT = "absent"  # asked, and it is not there: what the failure says holds
    PRESENT = "present"  # asked, and it is there: a failure saying it is gone is contradicted
    UNREACHABLE = "unreachable"  # no answer (connection, timeout, TLS, a 5xx, not a registry)
    REFUSED = "refused"  # an answer, but no access (401/403, with the credentials there are, or none)

    @property
    def answered(self) -> bool:
        """Whether the finding says something about the subject (the others change no verdict)."""
        return self in (Outcome.ABSENT, Outcome.PRESENT)


@dataclass(frozen=True)
class Clue:
    """A text some knowledge-base signatures matched: a failure's message and details, or a log excerpt.

    ``hits`` are those signatures (id and category): a probe reads the clues of the categories it can
    check, and its finding confirms or contradicts exactly these signatures."""

    text: str
    hits: tuple[tuple[str, Category], ...]


@dataclass(frozen=True)
class Subject:
    """One thing to look up, as a probe named it from a clue."""

    probe: ProbeName
    name: str  # what is looked up, normalised ("ghcr.io/bluesky-social/pds:0.4.182"): with probe, the cache key
    host: str  # where it is asked ("ghcr.io"): one that does not answer is not asked again for a while
    url: str  # what is asked, never with credentials in it


@dataclass(frozen=True)
class Finding:
    """What a probe found: the outcome, and a sentence saying what was asked and what it answered."""

    subject: Subject
    outcome: Outcome
    said: str  # e.g. "ghcr.io/x/app:1.2 is not in its registry: HEAD answered 404 (anonymous token)"
    checked: float  # when it was asked (epoch seconds); a cached finding keeps its time


@dataclass(frozen=True)
class ProbeFact:
    """A finding as one red run's fact: with the signatures whose matched text named its subject."""

    finding: Finding
    signatures: frozenset[str]


class Probe(Protocol):
    """A quick, read-only check. ``subjects`` is pure (text in, what to look up out); ``check`` asks,
    within ``timeout`` seconds, and never raises for an answer it does not like (that is a finding)."""

    @property
    def name(self) -> ProbeName: ...

    @property
    def categories(self) -> frozenset[Category]:
        """The signature categories whose clues this probe can check."""
        ...

    def subjects(self, clue: Clue) -> Sequence[Subject]: ...

    def check(self, subject: Subject, timeout: float) -> Finding: ...
