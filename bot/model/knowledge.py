"""What the operators know about a red: its fingerprint, the issue it is linked to, a verdict given by
hand, a mute — and the audit trail of who changed what.

Everything an operator records is stored against a failure's :class:`Fingerprint` and the recipe, so
a later red run that fails the same way inherits it, and one that fails differently does not (it is
news: the link no longer matches, the hand verdict no longer applies, the mute lapses).

(``runs.fingerprint`` in the store is another thing: the fingerprint of a run dir's files, which tells
ingest whether to read them again.)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

from bot.model.records import Category, VerdictOrigin

__all__ = [
    "MAX_MUTE_DAYS",
    "MAX_TEXT",
    "AuditAction",
    "AuditEntry",
    "Fingerprint",
    "HandVerdict",
    "IssueLink",
    "Knowledge",
    "KnowledgeKind",
    "KnownIssue",
    "Lapse",
    "Mute",
    "PrintHits",
    "RedState",
    "Standing",
    "VerdictOrigin",
]

MAX_TEXT = 500  # characters of a URL, a note or a reason
MAX_MUTE_DAYS = 90


class KnowledgeKind(StrEnum):
    """The three things an operator can attach to a failure."""

    LINK = "link"
    VERDICT = "verdict"
    MUTE = "mute"


class AuditAction(StrEnum):
    """One change in the audit trail; every reversible operation has its reverse here."""

    LINK = "link"
    UNLINK = "unlink"
    VERDICT = "verdict"
    MUTE = "mute"
    UNMUTE = "unmute"
    LAPSE = "lapse"  # a later red failed differently: a link, hand verdict or mute stopped applying


class RedState(StrEnum):
    """Where a current red stands with the operators (the reports lead with ``need_look``)."""

    NEED_LOOK = "need_look"  # no link, no hand verdict, no mute: nobody has looked yet
    KNOWN = "known"  # linked to an issue or given a verdict by hand
    MUTED = "muted"  # muted until a date


@dataclass(frozen=True)
class Fingerprint:
    """A failure's identity across runs: tier, test and assertion with ids, hosts, numbers and versions
    blanked (the normalisation of the summary's clusters). A red run without a failing test (results
    missing, cut off) has the empty fingerprint."""

    tier: str
    test: str
    assertion: str

    @property
    def key(self) -> str:
        """What the store indexes: short, fixed-length, the same for the same three parts."""
        raw = "\x1f".join((self.tier, self.test, self.assertion)).encode("utf-8", "surrogatepass")
        return hashlib.sha256(raw).hexdigest()[:24]

    @property
    def shape(self) -> str:
        """How people read it: ``install/test_login: assert <n> == <n>``."""
        if not (self.tier or self.test):
            return "red without a failing test"
        where = f"{self.tier}/{self.test}"
        return f"{where}: {self.assertion}" if self.assertion else where


@dataclass(frozen=True)
class IssueLink:
    """A recipe's failure tied to an issue in a tracker (the URL is shown, never fetched)."""

    id: int
    recipe: str
    fingerprint: str  # Fingerprint.key
    shape: str
    url: str
    note: str
    by: str
    at: float
    run_id: str | None  # the run it was linked on


@dataclass(frozen=True)
class HandVerdict:
    """A verdict an operator gave by hand for one failure of one recipe."""

    recipe: str
    fingerprint: str
    shape: str
    category: Category
    reason: str
    by: str
    at: float
    run_id: str | None


@dataclass(frozen=True)
class Mute:
    """A known red kept out of the reports' attention until ``until`` (or until it fails differently)."""

    recipe: str
    fingerprint: str
    shape: str
    until: float
    reason: str
    by: str
    at: float
    run_id: str | None

    def active(self, now: float) -> bool:
        return now < self.until


@dataclass(frozen=True)
class AuditEntry:
    """One change: who, when, what, on which failure; ``detail`` holds the values (URL, category, …)."""

    id: int
    at: float
    by: str
    action: AuditAction
    recipe: str
    fingerprint: str | None
    detail: dict[str, str | float | None]


@dataclass(frozen=True)
class Lapse:
    """Something an operator recorded that stopped applying: the recipe's red now fails differently.
    ``told_at`` is when a report told the room (None: not yet)."""

    id: int
    kind: KnowledgeKind
    recipe: str
    was: str  # the fingerprint it was recorded against
    now: str  # the new red's fingerprint
    shape: str  # the new red's shape
    run_id: str
    at: float
    told_at: float | None


@dataclass(frozen=True)
class PrintHits:
    """How often one failure of one recipe was seen: red runs with its fingerprint, first and last."""

    recipe: str
    fingerprint: str
    runs: int
    first_seen: float | None
    last_seen: float | None


@dataclass(frozen=True)
class Knowledge:
    """Everything recorded about one recipe: its links, its hand verdicts (one per fingerprint), its mute."""

    recipe: str
    links: tuple[IssueLink, ...] = ()
    verdicts: tuple[HandVerdict, ...] = ()
    mute: Mute | None = None

    def verdict_for(self, fingerprint: str) -> HandVerdict | None:
        return next((v for v in self.verdicts if v.fingerprint == fingerprint), None)

    def links_for(self, fingerprint: str) -> tuple[IssueLink, ...]:
        return tuple(link for link in self.links if link.fingerprint == fingerprint)


@dataclass(frozen=True)
class KnownIssue:
    """One issue link as an answer shows it: how often its failure was seen, and whether the recipe's
    current red still fails that way (``matches_current``; False: the red is news, the link is old)."""

    url: str
    note: str
    by: str
    since: float  # when it was linked
    hits: int  # red runs of the recipe with the linked failure's fingerprint
    first_seen: float | None
    last_seen: float | None
    matches_current: bool
    shape: str


@dataclass(frozen=True)
class Standing:
    """A recipe's current run as the operators' memory sees it. ``hand_verdict`` and ``mute`` are set only
    when they apply (same fingerprint; the mute not expired); ``lapsed_*`` are the ones a different
    failure left behind, shown as no longer applying."""

    recipe: str
    run_id: str | None
    fingerprint: str | None  # None: the run is not red
    shape: str
    known_issues: tuple[KnownIssue, ...] = ()
    hand_verdict: HandVerdict | None = None
    mute: Mute | None = None
    lapsed_verdict: HandVerdict | None = None
    lapsed_mute: Mute | None = None

    @property
    def state(self) -> RedState | None:
        """None when not red; else muted, known (a matching link or hand verdict), or needs a look."""
        if self.fingerprint is None:
            return None
        if self.mute is not None:
            return RedState.MUTED
        if self.hand_verdict is not None or any(k.matches_current for k in self.known_issues):
            return RedState.KNOWN
        return RedState.NEED_LOOK

    @property
    def current_issues(self) -> tuple[KnownIssue, ...]:
        return tuple(k for k in self.known_issues if k.matches_current)
