"""Answer objects: what the commands answer (chat, CLI, pages), each rendered by :mod:`bot.render`."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.model.knowledge import AuditAction, KnownIssue, Mute, RedState
from bot.model.records import (
    Canonical,
    Cluster,
    EvidenceItem,
    Failure,
    RunKind,
    RunStatus,
    Verdict,
)
from bot.model.reruns import RerunState


@dataclass(frozen=True)
class RerunOutcome:
    run_id: str
    status: RunStatus
    isolated: bool
    finished: float | None


@dataclass(frozen=True)
class CcciCommit:
    """The last cc-ci commit that changed a failing overlay test's file, read from cc-ci's checkout."""

    test: str
    path: str  # in cc-ci's repository: tests/<recipe>/<file>.py
    commit: str
    url: str | None  # None: no `links.ccci_commit_url`


@dataclass(frozen=True)
class RepoLinks:
    """What the operator opens next outside the bot: the recipe's repository at the version tested, what
    changed from the last green version to the first red one, and cc-ci's commits of failing overlay tests."""

    repository: str | None = None
    tested: str | None = None  # the repository at the tag tested
    compare_from: str | None = None  # the last green version before the red streak
    compare_to: str | None = None  # the version of the streak's first red run
    compare: str | None = None  # only when the two versions differ
    ccci_commits: list[CcciCommit] = field(default_factory=list)


@dataclass(frozen=True)
class WhyAnswer:
    """The latest evidence about one recipe: what `why` shows in every rendering."""

    recipe: str
    status: RunStatus
    version: str | None
    run_id: str | None
    kind: RunKind | None
    finished: float | None
    unverified: bool
    failures: list[Failure]
    evidence: list[EvidenceItem]
    reruns: list[RerunOutcome]
    verdict: Verdict | None
    canonical: Canonical | None
    red_since: float | None
    red_runs: int
    run_url: str | None
    # What the operators know (bot.memory): links with whether they match the current failure, the mute
    # that applies, the rules' verdict when an operator's overrides it, and the evidence that disagrees.
    known_issues: list[KnownIssue] = field(default_factory=list)
    muted: Mute | None = None
    rules_verdict: Verdict | None = None
    disagreement: list[str] = field(default_factory=list)
    state: RedState | None = None
    fingerprint: str = ""  # the current red's shape
    lapsed: list[str] = field(default_factory=list)  # what no longer applies, in words
    repo: RepoLinks = field(default_factory=RepoLinks)


@dataclass(frozen=True)
class SummaryRow:
    recipe: str
    version: str | None
    run_id: str
    status: RunStatus
    unverified: bool
    failures: list[Failure]
    verdict: Verdict | None
    log_url: str | None
    state: RedState | None = None
    known_issues: list[KnownIssue] = field(default_factory=list)  # those matching its current failure
    muted: Mute | None = None


@dataclass(frozen=True)
class SummaryAnswer:
    """The latest sweep, one row per recipe."""

    sweep_id: str | None
    started: float | None
    finished: float | None
    rows: list[SummaryRow]
    clusters: list[Cluster] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        red = sum(1 for r in self.rows if r.status is RunStatus.RED and not r.unverified)
        unver = sum(1 for r in self.rows if r.status is RunStatus.RED and r.unverified)
        green = sum(1 for r in self.rows if r.status is RunStatus.GREEN)
        states = {s: sum(1 for r in self.rows if r.state is s) for s in RedState}
        return {
            "green": green,
            "red": red,
            "unverified": unver,
            "total": len(self.rows),
            "need_look": states[RedState.NEED_LOOK],
            "known": states[RedState.KNOWN],
            "muted": states[RedState.MUTED],
        }


@dataclass(frozen=True)
class IngestReport:
    """What one scan found: new/changed runs, runs still being written, and unreadable ones."""

    scanned: int  # run dirs looked at (a scoped scan: those of its scope, and every new or unsealed one)
    ingested: list[str]
    unchanged: int
    in_progress: list[str]
    canonicals: int
    problems: list[str]
    seconds: float
    # recipes whose runs or canonical changed: their verdicts are decided again
    affected: list[str] = field(default_factory=list)
    # runs whose dir was found gone on this scan
    retired: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class HistoryRun:
    run_id: str
    kind: RunKind
    version: str | None
    status: RunStatus
    unverified: bool
    finished: float | None
    verdict: Verdict | None
    started_by: str | None = None  # who asked for the isolation rerun that made it (None: cc-ci's own run)


@dataclass(frozen=True)
class HistoryAnswer:
    """A recipe's last runs, oldest first: the strip `history` shows."""

    recipe: str
    runs: list[HistoryRun]


@dataclass(frozen=True)
class ArgHelp:
    """One declared argument of a command, as help shows it."""

    name: str
    help: str
    optional: bool
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class CommandHelp:
    name: str
    usage: str
    help: str
    acts: bool
    args: list[ArgHelp] = field(default_factory=list)


@dataclass(frozen=True)
class HelpAnswer:
    prefix: str
    commands: list[CommandHelp]
    detailed: bool = False  # `help <command>`: one command with its arguments


@dataclass(frozen=True)
class QueuedRerun:
    """A rerun not ended yet, as `status` lists it: what, in which state, and who asked."""

    id: int
    recipe: str
    version: str
    times: int
    state: RerunState
    requested_by: str


@dataclass(frozen=True)
class StatusAnswer:
    """What the bot is doing: version, last sync and ingest, queues.

    ``live`` is False on the CLI: no bot state there, only what the store knows.
    """

    version: str
    started_at: float | None
    last_sync: float | None
    last_sync_error: str | None
    last_ingest: str | None
    outbox_pending: int
    rooms: list[str]
    kb_version: str
    runs: int
    last_summary: str | None = None  # the sweep the last summary was about
    next_report: float | None = None
    e2ee: str | None = None  # encryption state: on/off, cross-signed or not, device key changes seen
    live: bool = True
    reruns: list[QueuedRerun] = field(default_factory=list)  # the rerun queue, running one first
    in_flight: list[str] = field(default_factory=list)  # cc-ci's runs in flight (its active dir)


@dataclass(frozen=True)
class NoticeAnswer:
    """A short plain answer (an error explained, a refusal)."""

    text: str
    ok: bool = True


@dataclass(frozen=True)
class RerunRef:
    """A rerun named in an answer."""

    id: int
    recipe: str
    version: str


@dataclass(frozen=True)
class CancelAnswer:
    """What `cancel` did. ``elsewhere``: reruns running in a bot process this caller cannot stop (CLI)."""

    recipe: str | None
    cancelled: list[RerunRef]
    elsewhere: list[RerunRef] = field(default_factory=list)


@dataclass(frozen=True)
class RerunQueued:
    """A rerun request accepted: where it stands in the queue, and whether it joined an identical one."""

    id: int
    recipe: str
    version: str
    times: int
    position: int  # 1 = next
    folded: bool


@dataclass(frozen=True)
class RecipeVerdict:
    recipe: str
    run_id: str
    verdict: Verdict


@dataclass(frozen=True)
class ReclassifyAnswer:
    """The knowledge base applied again: its version, its problems, and each red recipe's verdict."""

    kb_version: str
    signatures: int
    kb_problems: list[str]
    verdicts: list[RecipeVerdict]


@dataclass(frozen=True)
class KnowledgeChanged:
    """What an operator's `link`, `unlink`, `verdict`, `mute` or `unmute` recorded (or found to undo)."""

    action: AuditAction
    recipe: str
    by: str
    shape: str = ""  # the failure it was recorded against
    url: str | None = None
    note: str = ""
    category: str | None = None
    until: float | None = None
    removed: list[str] = field(default_factory=list)  # unlink: the URLs removed
    replaced: str | None = None  # verdict: the category given by hand before, for the same failure


@dataclass(frozen=True)
class KnownIssueRow:
    """One issue URL with every recipe linked to it: how often its failures were seen, and whether any
    recipe still fails that way."""

    url: str
    note: str
    recipes: list[str]
    hits: int
    first_seen: float | None
    last_seen: float | None
    still_failing: bool
    by: str
    since: float
    weekly: tuple[int, ...] = ()  # red runs with a linked failure per week, oldest first, the last ends now


@dataclass(frozen=True)
class MutedRow:
    recipe: str
    until: float
    reason: str
    by: str
    applies: bool  # False: the recipe now fails differently (the mute lapsed) or is green


@dataclass(frozen=True)
class KnownAnswer:
    """`known`: the known issues and the muted reds."""

    issues: list[KnownIssueRow]
    muted: list[MutedRow]


@dataclass(frozen=True)
class CalibrationSource:
    """One engine rule's automatic verdicts, against the operators' verdicts given by hand for the same runs."""

    rule: str  # Verdict.rule; "unnamed" for verdicts stored before rules had names
    n: int
    accuracy: float  # share whose category is the operator's
    mean_confidence: float


@dataclass(frozen=True)
class CalibrationAnswer:
    """`calibration`: how often the rules' verdict agrees with the operators' hand verdict of the same run,
    and how honest its confidence was (Brier score over right/wrong; 0 is perfect, 0.25 a coin's)."""

    n: int  # hand verdicts compared (those whose run has a verdict by the rules)
    accuracy: float | None
    brier: float | None
    by_source: list[CalibrationSource]
    without_rules: int = 0  # hand verdicts whose run has no verdict by the rules (not compared)
