"""When a sweep counts as finished, and which sweeps deserve a summary (pure decisions over the store).

A sweep is finished when nothing is in flight (cc-ci's active dir is empty, no run dir is still
being written) and no run of it started or finished for ``quiet_s`` — or when a later sweep exists.
Only the newest finished sweep is summarised; older unsummarised ones were missed while the bot
was down and are recorded silently, as is a new bot's whole history (a baseline, not news).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.store import Store
from bot.store.reports import ReportKind


@dataclass(frozen=True)
class SweepState:
    sweep_id: str
    run_ids: tuple[str, ...]
    last_activity: float  # latest start or finish of its runs, by cc-ci's clock
    last_ingested: float  # when the bot last (re)read one of its runs, by the bot's clock


@dataclass(frozen=True)
class DueSummaries:
    """Which sweep gets a summary now (if any), and which are recorded without one."""

    post: SweepState | None
    silence: list[tuple[SweepState, ReportKind]]  # (sweep, why it gets no summary: BASELINE or SUPERSEDED)


def sweep_states(store: Store) -> list[SweepState]:
    """Every sweep in the store, oldest first."""
    grouped: dict[str, tuple[list[str], float, float]] = {}
    for sweep_id, run_id, activity, ingested in store.sweeps.run_times():
        ids, last, seen = grouped.setdefault(sweep_id, ([], 0.0, 0.0))
        ids.append(run_id)
        grouped[sweep_id] = (ids, max(last, activity), max(seen, ingested))
    return [SweepState(sid, tuple(ids), last, seen) for sid, (ids, last, seen) in sorted(grouped.items())]


def due_summary(
    states: list[SweepState],
    known: set[str],
    covered: set[str],
    *,
    now: float,
    quiet_s: float,
    in_flight: bool,
    first_start: bool,
) -> DueSummaries:
    """Which sweep to summarise now, and which to record without a message.

    ``known``: sweeps already recorded; ``covered``: runs an earlier record covered (a sweep whose
    runs were summarised under another id — its artifacts re-written — is never summarised again).
    """
    newest = states[-1].sweep_id if states else None
    finished: list[SweepState] = []
    silence: list[tuple[SweepState, ReportKind]] = []
    for state in states:
        if state.sweep_id in known:
            continue
        if covered.intersection(state.run_ids):
            silence.append((state, ReportKind.SUPERSEDED))
            continue
        later_exists = state.sweep_id != newest
        quiet = not in_flight and now - state.last_activity >= quiet_s
        if later_exists or quiet:
            finished.append(state)
    if first_start:
        return DueSummaries(None, silence + [(s, ReportKind.BASELINE) for s in finished])
    if not finished:
        return DueSummaries(None, silence)
    return DueSummaries(finished[-1], silence + [(s, ReportKind.SUPERSEDED) for s in finished[:-1]])
