"""What the verdict engine weighs and what it returns: a red run's facts and the decision on them.

Plain data, no I/O and no rules: :mod:`bot.verdicts.facts` gathers these, :mod:`bot.verdicts.engine`
decides on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.artifacts.layout import Layout
from bot.model.records import (
    Canonical,
    Category,
    EvidenceItem,
    EvidenceKind,
    Failure,
    NextStep,
    RunRow,
    RunStatus,
    Strength,
    TierResult,
)
from bot.probes.records import ProbeFact
from bot.verdicts.staletest import StaleFinding

# Problems of a run (stored by ingest) that say the runner or its files failed, not the recipe.
STRUCTURAL_PROBLEMS = (EvidenceKind.RESULTS_MISSING, EvidenceKind.RESULTS_UNREADABLE, EvidenceKind.JUNIT_UNREADABLE)


@dataclass(frozen=True)
class SignatureHit:
    signature: str
    category: Category
    description: str
    weight: float
    where: EvidenceKind  # FAILURE (the failure text matched) or LOG
    evidence: EvidenceItem


@dataclass(frozen=True)
class RerunFact:
    run_id: str
    status: RunStatus
    isolated: bool
    unverified: bool
    failing: frozenset[tuple[str, str]]
    finished: float | None
    passed: frozenset[tuple[str, str]] = frozenset()  # tests that ran and passed
    failures: tuple[Failure, ...] = ()
    signatures: tuple[SignatureHit, ...] = ()  # knowledge-base hits on this rerun's own failures


@dataclass(frozen=True)
class SharedCause:
    """Three or more recipes of one sweep failing the same way in the same tier, in shared machinery."""

    sweep_id: str
    tier: str
    machinery: str  # "backups", "the proxy", "the node"
    failure: str  # the normalised failure text
    recipes: tuple[str, ...]


@dataclass(frozen=True)
class SweepRepeat:
    """The red run failed the same way in the sweeps just before it: the same failing tier and test, each
    with the same normalised failure (:func:`bot.verdicts.clusters.normalize`), sweep after sweep."""

    sweeps: int  # consecutive sweeps red the same way, the target's included (2 or more)
    run_ids: tuple[str, ...]  # those sweep runs, newest (the target) first
    versions: tuple[str, ...]  # the versions they tested, distinct, newest first
    failure: str  # the first failing test's normalised failure, as it repeats


@dataclass(frozen=True)
class CutOff:
    """A runner that stopped mid-run: no results file, and the log ends inside a tier."""

    tier: str
    source: str | None
    exit_code: int | None
    last_line: int
    excerpt: str
    log: str  # the log's name in the run dir (ccci.log_name), cited with the line


@dataclass(frozen=True)
class Facts:
    """Everything the engine may weigh about one red run; gathered elsewhere (I/O lives there)."""

    recipe: str
    target: RunRow
    tiers: list[TierResult]
    failures: list[Failure]
    problems: list[EvidenceItem]
    reruns: list[RerunFact]
    canonical: Canonical | None
    signatures: list[SignatureHit]
    stale: list[StaleFinding]
    peers: list[EvidenceItem]
    same_version_history: list[RunRow] = field(default_factory=list)
    shared: list[SharedCause] = field(default_factory=list)
    cutoff: CutOff | None = None
    peer_labels: list[EvidenceItem] = field(default_factory=list)  # compose differences with a passing peer
    probes: list[ProbeFact] = field(default_factory=list)  # what quick look-ups found (bot/probes/)
    repeated: SweepRepeat | None = None  # red the same way in the sweeps before this one
    layout: Layout = field(kw_only=True)  # cc-ci's file names as configured: what the evidence cites

    @property
    def failing(self) -> frozenset[tuple[str, str]]:
        return frozenset((f.tier, f.test) for f in self.failures)


@dataclass(frozen=True)
class Decision:
    category: Category
    confidence: float
    reason: str
    evidence: list[EvidenceItem]
    settle: NextStep | None = None  # what would settle it (rendered as a command by chat and CLI only)
    rule: str = ""  # the name of the rule that decided (its function in engine.RULES), set by decide()
    strength: Strength = field(kw_only=True)  # what it rests on, in the fixed vocabulary: each rule says
