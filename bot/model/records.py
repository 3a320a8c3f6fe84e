"""Domain objects: what a cc-ci run is once read from disk, and what the bot answers about it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

TIERS = ("install", "upgrade", "backup", "restore", "custom")


class TestStatus(StrEnum):
    """A test's or a tier's status, in cc-ci's words."""

    __test__ = False  # not a pytest class

    PASS = "pass"  # noqa: S105 - a test status, not a password
    FAIL = "fail"
    ERROR = "error"
    SKIP = "skip"
    UNVER = "unver"

    @classmethod
    def parse(cls, value: object) -> TestStatus:
        """Accept cc-ci's and pytest's spellings; anything unrecognised counts as an error."""
        text = str(value).strip().lower()
        return _STATUS_ALIASES.get(text, cls.ERROR)

    @property
    def is_failure(self) -> bool:
        return self in (TestStatus.FAIL, TestStatus.ERROR)


_STATUS_ALIASES = {
    "pass": TestStatus.PASS,
    "passed": TestStatus.PASS,
    "ok": TestStatus.PASS,
    "success": TestStatus.PASS,
    "fail": TestStatus.FAIL,
    "failed": TestStatus.FAIL,
    "failure": TestStatus.FAIL,
    "error": TestStatus.ERROR,
    "errored": TestStatus.ERROR,
    "skip": TestStatus.SKIP,
    "skipped": TestStatus.SKIP,
    "unver": TestStatus.UNVER,
    "unverified": TestStatus.UNVER,
}


class RunStatus(StrEnum):
    RED = "red"
    GREEN = "green"
    UNKNOWN = "unknown"


class RunKind(StrEnum):
    SWEEP = "sweep"
    ISOLATION = "isolation"
    PR = "pr"


class Category(StrEnum):
    """A verdict's root cause. Knowledge-base signatures name one of the first five; ``unknown`` is the
    engine's honest answer when nothing fits."""

    FLAKE = "flake"
    RECIPE_DEFECT = "recipe-defect"
    STALE_TEST = "stale-test"
    UPSTREAM_DEFECT = "upstream-defect"
    INFRA = "infra"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: object) -> Category:
        """A stored category; one this bot does not know (a newer bot wrote it) reads as ``unknown``."""
        try:
            return cls(str(value))
        except ValueError:
            return cls.UNKNOWN


class EvidenceKind(StrEnum):
    """What one piece of evidence is, and so where it came from."""

    FAILURE = "failure"  # a failing testcase (JUnit)
    LOG = "log"  # a line of the run's log that matched a scan pattern
    HISTORY = "history"  # the current red streak
    RERUN = "rerun"  # another run of the same version
    CANONICAL = "canonical"  # cc-ci's record of the last version that went green
    SIGNATURE = "signature"  # a knowledge-base signature matched
    PEER = "peer"  # other recipes pass the same test
    STALE_TEST = "stale-test"  # the test expects what the recipe clone no longer has
    PEER_LABELS = "peer-labels"  # the passing peer's compose differs in the labels the test depends on
    SHARED_CAUSE = "shared-cause"  # three or more recipes of the sweep fail the same way in shared machinery
    CUT_OFF = "cut-off"  # the runner was cut off: the log line it ended on, inside a tier
    # What could not be read in the run dir:
    RESULTS_MISSING = "results-missing"
    RESULTS_UNREADABLE = "results-unreadable"
    JUNIT_UNREADABLE = "junit-unreadable"
    LOG_UNREADABLE = "log-unreadable"
    BAD_TIME = "bad-time"  # a started/finished that is no usable time, treated as missing
    NAMES_ESCAPED = "names-escaped"  # test names with control characters, stored escaped


@dataclass(frozen=True)
class TestCase:
    """One JUnit testcase, as pytest wrote it."""

    __test__ = False

    tier: str
    source: str
    name: str
    classname: str
    status: TestStatus
    ms: int
    junit_file: str
    message: str = ""
    text: str = ""


@dataclass(frozen=True)
class Failure:
    """A failing (or erroring) testcase: where root-cause analysis starts."""

    tier: str
    source: str
    test: str
    message: str
    text: str
    junit_file: str
    # FAIL (an assertion) or ERROR (setup/teardown: often the harness, not the recipe)
    status: TestStatus = TestStatus.FAIL


@dataclass(frozen=True)
class TierResult:
    name: str
    status: TestStatus


@dataclass(frozen=True)
class EvidenceItem:
    """One fact with where it was found; the unit every answer is built from."""

    kind: EvidenceKind
    run_id: str | None
    path: str
    line: int | None
    excerpt: str
    url: str | None = None


@dataclass
class ParsedRun:
    """Everything read from one run dir. ``problems`` say what could not be read, and why."""

    run_id: str
    recipe: str
    version: str | None
    pr: str | None
    ref: str | None
    started: float | None
    finished: float | None
    tiers: list[TierResult]
    tests: list[TestCase]
    failures: list[Failure]
    status: RunStatus
    unverified: bool
    derived: bool
    directory: str
    fingerprint: str
    raw: dict[str, Any] = field(default_factory=dict)
    problems: list[EvidenceItem] = field(default_factory=list)
    log_hits: list[EvidenceItem] = field(default_factory=list)


@dataclass(frozen=True)
class Canonical:
    """cc-ci's record of the last version that went green on a cold run of a tagged release."""

    recipe: str
    version: str
    commit: str | None
    status: str | None
    ts: float | None


@dataclass(frozen=True)
class RunRow:
    """A stored run, as the answers need it."""

    run_id: str
    recipe: str
    version: str | None
    pr: str | None
    started: float | None
    finished: float | None
    status: RunStatus
    unverified: bool
    kind: RunKind
    sweep_id: str | None
    derived: bool
    retired_at: float | None = None  # when its dir was found gone: history, but no files to offer


class NextStep(StrEnum):
    """What would settle an unsure verdict. Stored with it; only the chat/CLI renderers turn it into a
    command (with their own prefix), so stored reasons, pages and JSON carry no command syntax."""

    ISOLATION_RERUN = "isolation-rerun"  # no isolation rerun of the version exists yet
    MORE_RERUNS = "more-reruns"  # isolation reruns exist but disagree with the sweep run


@dataclass(frozen=True)
class Verdict:
    """A root-cause verdict: category, honest confidence, one sentence naming the deciding evidence."""

    category: Category
    confidence: float
    reason: str
    kb_version: str = ""  # the knowledge base that decided it
    settle: NextStep | None = None  # what would settle it, when it is not settled


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
class Cluster:
    """One failure shape shared by several recipes of a sweep."""

    signature: str
    recipes: tuple[str, ...]


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
class ScanScope:
    """The sealed runs a scan before one answer checks: those of ``recipes``, of ``sweeps``, and of
    the latest sweep when ``latest_sweep``. New and unsealed dirs are looked at all the same; only
    sealed runs the answer does not read are left to the next full scan (each costs two stats)."""

    recipes: frozenset[str] = frozenset()
    sweeps: frozenset[str] = frozenset()
    latest_sweep: bool = False


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


class Change(StrEnum):
    """How a recipe's sweep result moved since its previous sweep."""

    NEWLY_RED = "newly-red"
    NEWLY_GREEN = "newly-green"
    STILL_RED = "still-red"
    STILL_GREEN = "still-green"
    FIRST = "first"  # not in any earlier sweep


@dataclass(frozen=True)
class ReportRow:
    """One recipe in a sweep summary: its result, how it moved, and the evidence links."""

    recipe: str
    version: str | None
    run_id: str
    status: RunStatus
    unverified: bool
    change: Change
    red_since: float | None  # finish of the first red sweep run of the current streak
    red_sweeps: int  # consecutive red sweeps, this one included
    flips: int  # red/green changes over the last `reports.flip_window` sweeps
    tiers: dict[str, TestStatus]
    failures: list[Failure]
    verdict: Verdict | None
    log_url: str | None
    junit_url: str | None


@dataclass(frozen=True)
class SweepReport:
    """What the ops room is told when a sweep finishes."""

    sweep_id: str
    started: float | None
    finished: float | None
    previous_sweep_id: str | None
    rows: list[ReportRow]
    not_run: list[str]  # in the previous sweep, absent from this one
    tiers: list[str]  # grid columns, in cc-ci's order
    clusters: list[Cluster] = field(default_factory=list)
    late: bool = False
    auto_reruns: list[str] = field(default_factory=list)

    def of(self, change: Change) -> list[ReportRow]:
        return [r for r in self.rows if r.change is change]

    @property
    def red(self) -> list[ReportRow]:
        return [r for r in self.rows if r.status is RunStatus.RED]

    @property
    def counts(self) -> dict[str, int]:
        return {
            "green": sum(1 for r in self.rows if r.status is RunStatus.GREEN),
            "red": sum(1 for r in self.rows if r.status is RunStatus.RED and not r.unverified),
            "unverified": sum(1 for r in self.rows if r.status is RunStatus.RED and r.unverified),
            "skipped": len(self.not_run),
            "total": len(self.rows),
        }


@dataclass(frozen=True)
class RedRow:
    recipe: str
    version: str | None
    run_id: str
    kind: RunKind | None
    unverified: bool
    red_since: float | None
    red_runs: int
    failures: list[Failure]
    verdict: Verdict | None
    log_url: str | None
    junit_url: str | None


@dataclass(frozen=True)
class RedReport:
    """The scheduled report: every recipe whose latest released-version run is red."""

    slot: float  # the schedule's fire time this report answers
    late: bool  # sent after the slot because the bot was down
    recipes: int  # how many recipes are known at all
    rows: list[RedRow]
