"""The states a rerun moves through and how it ends, as enums (stored in SQLite as their values).

Everything that branches on a rerun (the queue, the chat, the CLI's exit code, the metrics' labels)
reads these, never the sentences an operator is told.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot.errors import BadInput
from bot.model.records import RunStatus


class RerunError(BadInput, ValueError):
    """A rerun that cannot be queued; the message says why."""


class RerunState(StrEnum):
    QUEUED = "queued"
    WAITING = "waiting"  # for the CI node to be idle
    RUNNING = "running"
    DONE = "done"  # its runs ran (whatever their results)
    CANCELLED = "cancelled"
    FAILED = "failed"  # the node stayed busy: nothing was run
    INTERRUPTED = "interrupted"  # the bot stopped while it waited or ran

    @property
    def active(self) -> bool:
        return self in ACTIVE


ACTIVE = (RerunState.QUEUED, RerunState.WAITING, RerunState.RUNNING)


class AttemptOutcome(StrEnum):
    """How one isolation run of a rerun ended, before its run dir is read."""

    RAN = "ran"  # the runner finished and wrote a run dir
    TIMEOUT = "timeout"
    NO_RESULTS = "no-results"
    START_FAILED = "start-failed"
    STEP_FAILED = "step-failed"
    CANCELLED = "cancelled"
    LOG_UNWRITABLE = "log-unwritable"  # its log could not be written (a full disk): the runner was stopped


class RerunResult(StrEnum):
    """How a whole rerun ended: the ``outcome`` label of ``ccci_reruns``."""

    GREEN = "green"  # every run is green
    RED = "red"  # at least one run is red
    UNKNOWN = "unknown"  # no red run, but a run's status could not be read
    TIMEOUT = "timeout"
    NO_RESULTS = "no-results"
    START_FAILED = "start-failed"
    STEP_FAILED = "step-failed"
    CANCELLED = "cancelled"
    LOG_UNWRITABLE = "log-unwritable"
    NODE_BUSY = "node-busy"
    INTERRUPTED = "interrupted"


class NotifyKind(StrEnum):
    """What a rerun notification is: the chat edits one status message in place, replies for the rest."""

    WAITING = "waiting"
    PROGRESS = "progress"
    FINAL = "final"


@dataclass
class Attempt:
    """What one isolation run did, before the bot reads its run dir (stored with the rerun)."""

    outcome: AttemptOutcome
    run_id: str | None
    seconds: float
    log_path: str
    log_tail: str = ""
    detail: str = ""  # for the operator: what went wrong, in words
    pids: list[int] = field(default_factory=list)
    n: int = 0  # which of the rerun's runs (1-based)
    leftovers: list[str] = field(default_factory=list)  # what teardown left behind

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Attempt:
        return cls(**{**data, "outcome": AttemptOutcome(data["outcome"])})


# When attempts ended differently, the first of these names how the rerun ended.
_FIRST_FAILURE = (
    AttemptOutcome.CANCELLED,
    AttemptOutcome.LOG_UNWRITABLE,
    AttemptOutcome.NO_RESULTS,
    AttemptOutcome.START_FAILED,
    AttemptOutcome.STEP_FAILED,
    AttemptOutcome.TIMEOUT,
)


def result_of(attempts: Iterable[Attempt], statuses: Iterable[RunStatus]) -> RerunResult:
    """How a rerun whose attempts were made ended: the first failure, else red/green from its runs."""
    outcomes = {a.outcome for a in attempts}
    for outcome in _FIRST_FAILURE:
        if outcome in outcomes:
            return RerunResult(outcome.value)
    found = set(statuses)
    if RunStatus.RED in found:
        return RerunResult.RED
    return RerunResult.GREEN if found == {RunStatus.GREEN} else RerunResult.UNKNOWN
