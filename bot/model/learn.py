"""A taught signature: what `learn` proposes, why it may refuse, and what applying it did.

elastic-recheck's rule stands behind the checks: a fingerprint must match the failure it was written
for and no successful run, so the proposal carries both counts, and the reds it would reclassify.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from bot.model.answers import RecipeVerdict
from bot.model.records import Category, Verdict


class Refusal(StrEnum):
    """Why a pattern is not taught (the CLI exits 2 on each)."""

    INVALID = "invalid"  # not a regular expression at all
    UNSUPPORTED = "unsupported"  # a regular expression RE2, the linear-time engine, cannot run
    TOO_BROAD = "too-broad"  # matches the empty text, so it matches everything
    NOT_RED = "not-red"  # the recipe's status run is not red: there is no current failure
    NO_FAILURE = "no-failure"  # red, but no failing testcase to match (the runner died, say)
    NO_MATCH = "no-match"  # does not match the current failure
    MATCHES_GREEN = "matches-green"  # matches a green run's log or JUnit text
    ALREADY_KNOWN = "already-known"  # the same category and pattern were taught before
    NO_DIRECTORY = "no-directory"  # knowledge.dirs is empty, or its first entry cannot be written


@dataclass(frozen=True)
class LearnRequest:
    """What an operator asked to teach; in chat it rides in the proposal's reply until a 👍 confirms it."""

    recipe: str
    category: Category
    pattern: str


@dataclass(frozen=True)
class GreenHit:
    """A green run whose text the pattern matches: the proof that the pattern is too broad."""

    run_id: str
    recipe: str
    path: str  # the file inside the run dir (the log or a JUnit file)
    excerpt: str


@dataclass(frozen=True)
class GreenCheck:
    """The green-run check: how many were read, how many matched (first few shown), what could not be read."""

    checked: int
    matched: int
    hits: list[GreenHit] = field(default_factory=list)
    unreadable: int = 0  # green runs with no readable log or JUnit file (retired, refused)
    partial: int = 0  # files read only up to the cap
    seconds: float = 0.0


@dataclass(frozen=True)
class OtherRed:
    """Another current red whose failure the pattern matches: the signature would weigh on its verdict."""

    recipe: str
    run_id: str
    test: str  # tier/test of the matching failure
    verdict: Verdict | None  # its verdict now


@dataclass(frozen=True)
class LearnProposal:
    """The checks of one request against the recipe's current failure and the history."""

    request: LearnRequest
    signature_id: str
    run_id: str | None = None  # the recipe's status run
    failure: str | None = None  # tier/test of the failure the pattern matches
    excerpt: str | None = None  # what it matched there
    example: str | None = None  # the failure text kept as the signature's must-match example
    greens: GreenCheck | None = None
    others: list[OtherRed] = field(default_factory=list)
    refusal: Refusal | None = None
    reason: str = ""  # the refusal in words

    @property
    def acceptable(self) -> bool:
        return self.refusal is None


@dataclass(frozen=True)
class TaughtSignature:
    """A signature written into the knowledge base: its file (name only: never a host path in chat), who, when."""

    file_name: str
    by: str
    at: float
    kb_version: str
    reclassified: list[RecipeVerdict]  # every current red's verdict, decided again


@dataclass(frozen=True)
class LearnAnswer:
    """`learn`'s answer: the proposal, and when confirmed (👍 or ``--apply``) what was written."""

    proposal: LearnProposal
    taught: TaughtSignature | None = None
    confirmable: bool = False  # chat: a 👍 from an operator on this reply teaches it

    @property
    def refused(self) -> bool:
        return not self.proposal.acceptable
