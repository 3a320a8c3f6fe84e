"""Answer objects: what the commands answer (chat, CLI, pages), each rendered by :mod:`bot.render`."""

from __future__ import annotations

from dataclasses import dataclass, field

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
        return {"green": green, "red": red, "unverified": unver, "total": len(self.rows)}


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
