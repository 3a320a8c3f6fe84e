"""What the room is told unasked: the sweep summary and the scheduled red report."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from bot.model.knowledge import KnownIssue, Mute, RedState
from bot.model.records import (
    Category,
    Cluster,
    Failure,
    RunKind,
    RunStatus,
    Strength,
    TestStatus,
    Verdict,
)


@dataclass(frozen=True)
class LapseNote:
    """A recipe whose recorded knowledge a later red no longer matches: told once in the room, then marked."""

    recipe: str
    lapse_ids: tuple[int, ...]
    link_urls: tuple[str, ...] = ()  # links recorded against the failure it no longer fails with
    verdict: Category | None = None  # the hand verdict that no longer applies
    mute: bool = False  # the mute lapsed before its expiry


class Action(StrEnum):
    """What a red in a sweep summary needs, the order its headline lists them in."""

    NEED_LOOK = "need-look"  # nothing recorded, nothing settles it: a person should read it
    RERUNNING = "rerunning"  # an automatic isolation rerun is queued for it
    KNOWN = "known"  # linked to an issue or given a verdict by hand
    MUTED = "muted"
    NO_ACTION = "no-action"  # a flake settled by isolation reruns, or infra (passed alone, or retested next sweep)


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
    state: RedState | None = None  # need a look, known or muted (bot.memory); None when not a verified red
    issues: list[KnownIssue] = field(default_factory=list)  # links matching its current failure
    muted: Mute | None = None


def state_counts(states: list[RedState | None]) -> dict[str, int]:
    """``need_look``, ``known``, ``muted``: how many reds each; the classification rate of a report."""
    return {s.value: sum(1 for x in states if x is s) for s in RedState}


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
    lapses: list[LapseNote] = field(default_factory=list)  # not told yet: this summary tells them

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
            **state_counts([r.state for r in self.rows]),
        }

    def by_action(self) -> dict[Action, list[ReportRow]]:
        """Its reds grouped by what they need (only groups with reds, in :class:`Action` order)."""
        groups: dict[Action, list[ReportRow]] = {a: [] for a in Action}
        for r in self.red:
            groups[action_of(r, r.recipe in self.auto_reruns)].append(r)
        return {a: rows for a, rows in groups.items() if rows}


def action_of(row: ReportRow, rerunning: bool) -> Action:
    """What one red needs: what the operators recorded first, then a queued rerun, then its verdict."""
    if row.state is RedState.MUTED:
        return Action.MUTED
    if row.state is RedState.KNOWN:
        return Action.KNOWN
    if rerunning:
        return Action.RERUNNING
    v = row.verdict
    if row.unverified or (v is not None and v.category is Category.INFRA):
        return Action.NO_ACTION
    if v is not None and v.category is Category.FLAKE and v.strength is Strength.RERUNS:
        return Action.NO_ACTION
    return Action.NEED_LOOK


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
    state: RedState | None = None
    issues: list[KnownIssue] = field(default_factory=list)
    muted: Mute | None = None


@dataclass(frozen=True)
class RedReport:
    """The scheduled report: every recipe whose latest released-version run is red."""

    slot: float  # the schedule's fire time this report answers
    late: bool  # sent after the slot because the bot was down
    recipes: int  # how many recipes are known at all
    rows: list[RedRow]
    lapses: list[LapseNote] = field(default_factory=list)  # not told yet: this report tells them
    unchanged_since: float | None = None  # the slot of the previous report, when nothing changed since

    @property
    def counts(self) -> dict[str, int]:
        return {"red": len(self.rows), **state_counts([r.state for r in self.rows])}


def verdict_moved(before: Verdict | None, after: Verdict) -> bool:
    """Whether a red recipe's verdict is news against the one told before: another category, or the same
    resting on something else (an automatic rerun reproduced an unknown: "reproduced alone" now). A strength
    not recorded (told by a bot before strengths) is not news by itself."""
    if before is None or before.category is not after.category:
        return True
    return before.strength is not None and before.strength is not after.strength
