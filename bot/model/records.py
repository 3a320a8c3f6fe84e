"""Domain records: what a cc-ci run is once read from disk, and the runs and verdicts stored from it."""

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
    PROBE = "probe"  # a quick read-only look-up (an image tag in its registry): the URL asked and the answer
    REPEATED = "repeated"  # an earlier sweep's run of the recipe, red the same way
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
    # It fails every time (alone, or the same way sweep after sweep) and nothing names the cause: another
    # rerun adds nothing; a person reading the failure, the test and the recipe's changes does (or a signature).
    FIND_CAUSE = "find-cause"

    @property
    def is_rerun(self) -> bool:
        """Whether what settles it is a rerun (the chat offers the command; the bot may queue one itself)."""
        return self in (NextStep.ISOLATION_RERUN, NextStep.MORE_RERUNS)


class Strength(StrEnum):
    """What a verdict rests on, from a small fixed vocabulary: set by the engine rule that decided it and
    stored with the verdict. People read these (``bot.render.strength`` has the words); the confidence
    number stays beside it for JSON and for decisions (the automatic-rerun threshold)."""

    RERUNS = "reruns"  # isolation reruns of the version settled it (green alone, or k of N)
    GREEN_LATER = "green-later"  # cc-ci's canonical: the same version went green in a later run
    REPRODUCED = "reproduced"  # an isolation rerun failed the same way
    REPEATED = "repeated"  # red the same way in consecutive sweeps
    PROBED = "probed"  # a quick read-only probe checked it (the image registry, ...)
    CHECKED = "checked"  # checked against the recipe's releases (the stale-test search of its git)
    RUN_RECORD = "run-record"  # the run's own record: tiers not run, harness errors, a runner died or cut off
    RERUNS_DISAGREE = "reruns-disagree"  # isolation reruns failed elsewhere than the sweep run
    SHARED = "shared"  # several recipes of the sweep fail the same way in machinery they share
    PATTERN = "pattern"  # a pattern alone: a knowledge-base signature, or flips across runs
    NOTHING = "nothing"  # nothing decides it yet

    @classmethod
    def parse(cls, value: object) -> Strength | None:
        """A stored strength; None for none stored (verdicts decided before) or one a newer bot wrote."""
        try:
            return cls(str(value)) if value is not None else None
        except ValueError:
            return None


class VerdictOrigin(StrEnum):
    """Who decided a verdict: the engine's rules, or an operator by hand (which wins, and says so)."""

    RULES = "rules"
    OPERATOR = "operator"


@dataclass(frozen=True)
class Verdict:
    """A root-cause verdict: category, honest confidence, one sentence naming the deciding evidence."""

    category: Category
    confidence: float
    reason: str
    kb_version: str = ""  # the knowledge base that decided it
    settle: NextStep | None = None  # what would settle it, when it is not settled
    rule: str | None = None  # the engine rule that decided it (bot.verdicts.engine.RULES); None before rules had names
    strength: Strength | None = None  # what it rests on (set by that rule); None for verdicts stored before
    source: VerdictOrigin = VerdictOrigin.RULES  # an operator's verdict given by hand wins over the rules'
    by: str | None = None  # who gave it by hand (None for the rules')


@dataclass(frozen=True)
class StoredVerdict:
    """A run's verdict as it was stored: the decision (its ``kb_version`` says which knowledge base
    made it, so a reader can tell a current verdict from one to decide again) and the evidence it cited."""

    verdict: Verdict
    evidence: tuple[EvidenceItem, ...] = ()

    @property
    def kb_version(self) -> str:
        return self.verdict.kb_version


@dataclass(frozen=True)
class Cluster:
    """One failure shape shared by several recipes of a sweep."""

    signature: str
    recipes: tuple[str, ...]


@dataclass(frozen=True)
class ScanScope:
    """The sealed runs a scan before one answer checks: those of ``recipes``, of ``sweeps``, and of
    the latest sweep when ``latest_sweep``. New and unsealed dirs are looked at all the same; only
    sealed runs the answer does not read are left to the next full scan (each costs two stats)."""

    recipes: frozenset[str] = frozenset()
    sweeps: frozenset[str] = frozenset()
    latest_sweep: bool = False
