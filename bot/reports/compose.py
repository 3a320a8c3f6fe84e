"""What a sweep summary and a red report say, built from the store (no formatting, no chat).

A recipe's movement is judged sweep against sweep (its last run in each), so an isolation rerun that
went green does not make the next sweep's red look new; the rerun shows in the verdict instead.
"""

from __future__ import annotations

import itertools

from bot.answers import why
from bot.answers.summary import summary
from bot.answers.why import VerdictSource
from bot.config import Config
from bot.links import link
from bot.model.answers import SummaryRow
from bot.model.knowledge import KnowledgeKind
from bot.model.records import TIERS, Category, Failure, RunStatus, TestStatus
from bot.model.reports import Change, LapseNote, RedReport, RedRow, ReportRow, SweepReport
from bot.store import Store

# (sweep_id, status, unverified, finished) of a recipe's last run in each sweep, oldest sweep first
SweepHistory = list[tuple[str, RunStatus, bool, float | None]]


def sweep_histories(store: Store, upto: str) -> dict[str, SweepHistory]:
    """Every recipe's result in each sweep up to and including ``upto`` (ids sort by start time)."""
    found: dict[str, SweepHistory] = {}
    for recipe, sweep_id, status, unverified, finished in store.sweeps.results(upto):
        history = found.setdefault(recipe, [])
        entry = (sweep_id, status, unverified, finished)
        if history and history[-1][0] == sweep_id:
            history[-1] = entry  # a recipe run twice in one sweep counts by its last run
        else:
            history.append(entry)
    return found


def _movement(history: SweepHistory) -> tuple[Change, float | None, int]:
    """How the last entry moved from the one before; the red streak's start and length."""
    now = history[-1]
    before = history[-2] if len(history) > 1 else None
    red = now[1] is RunStatus.RED
    streak = 0
    since: float | None = None
    if red:
        for _sid, status, _unver, finished in reversed(history):
            if status is not RunStatus.RED:
                break
            streak += 1
            since = finished
    if before is None:
        return Change.FIRST, since, streak
    was_red = before[1] is RunStatus.RED
    if red:
        return (Change.STILL_RED if was_red else Change.NEWLY_RED), since, streak
    return (Change.NEWLY_GREEN if was_red else Change.STILL_GREEN), since, streak


def _flips(history: SweepHistory, window: int) -> int:
    recent = [status is RunStatus.RED for _sid, status, _u, _f in history[-window:]]
    return sum(1 for a, b in itertools.pairwise(recent) if a != b)


def _tiers(store: Store, row: SummaryRow) -> dict[str, TestStatus]:
    return {t.name: t.status for t in store.results.tiers(row.run_id)}


def _junit_url(config: Config, run_id: str, failures: list[Failure]) -> str | None:
    """The link a red row gives for its JUnit: the file of its first failure, if that came from one."""
    junit = failures[0].junit_file if failures else None
    return link(config.link_base, run_id, junit) if junit else None


def build_sweep_report(
    store: Store, config: Config, sweep_id: str, verdicts: VerdictSource | None = None, late: bool = False
) -> SweepReport:
    """The summary of one sweep, compared with each recipe's previous sweep."""
    base = summary(store, config, sweep_id, verdicts)
    histories = sweep_histories(store, sweep_id)
    previous = store.sweeps.previous_id(sweep_id)
    rows: list[ReportRow] = []
    columns: list[str] = []
    for r in base.rows:
        history = [h for h in histories.get(r.recipe, []) if h[0] <= sweep_id]
        change, since, streak = _movement(history) if history else (Change.FIRST, None, 0)
        tiers = _tiers(store, r)
        columns += [t for t in tiers if t not in columns]
        rows.append(
            ReportRow(
                recipe=r.recipe,
                version=r.version,
                run_id=r.run_id,
                status=r.status,
                unverified=r.unverified,
                change=change,
                red_since=since,
                red_sweeps=streak,
                flips=_flips(history, config.reports.flip_window),
                tiers=tiers,
                failures=r.failures,
                verdict=r.verdict,
                log_url=r.log_url,
                junit_url=_junit_url(config, r.run_id, r.failures),
                state=r.state,
                issues=r.known_issues,
                muted=r.muted,
            )
        )
    present = {r.recipe for r in rows}
    not_run = sorted(
        recipe
        for recipe, history in histories.items()
        if recipe not in present and previous is not None and any(h[0] == previous for h in history)
    )
    ordered = [t for t in TIERS if t in columns] + [t for t in columns if t not in TIERS]
    return SweepReport(
        sweep_id=sweep_id,
        started=base.started,
        finished=base.finished,
        previous_sweep_id=previous,
        rows=rows,
        not_run=not_run,
        tiers=ordered,
        clusters=base.clusters,
        late=late,
        lapses=untold_lapses(store),
    )


def build_red_report(
    store: Store, config: Config, slot: float, late: bool, verdicts: VerdictSource | None = None
) -> RedReport:
    """Every recipe whose latest released-version run (sweep or isolation) is red, oldest red first."""
    recipes = store.runs.recipes()
    rows: list[RedRow] = []
    for recipe in recipes:
        answer = why.why(store, config, recipe, verdicts)
        if answer.run_id is None or answer.status is not RunStatus.RED:
            continue
        rows.append(
            RedRow(
                recipe=recipe,
                version=answer.version,
                run_id=answer.run_id,
                kind=answer.kind,
                unverified=answer.unverified,
                red_since=answer.red_since,
                red_runs=answer.red_runs,
                failures=answer.failures,
                verdict=answer.verdict,
                log_url=link(config.link_base, answer.run_id, config.ccci.log_name),
                junit_url=_junit_url(config, answer.run_id, answer.failures),
                state=answer.state if not answer.unverified else None,
                issues=[k for k in answer.known_issues if k.matches_current],
                muted=answer.muted,
            )
        )
    rows.sort(key=lambda r: (r.red_since or float("inf"), r.recipe))
    return RedReport(slot=slot, late=late, recipes=len(recipes), rows=rows, lapses=untold_lapses(store))


def untold_lapses(store: Store) -> list[LapseNote]:
    """The lapses no report told yet, one note per recipe: what stopped applying (the links by URL, the
    hand verdict by category), read from what is recorded against the failure it no longer fails with."""
    by_recipe: dict[str, list[int]] = {}
    links: dict[str, list[str]] = {}
    verdicts: dict[str, Category] = {}
    muted: set[str] = set()
    for lapse in store.knowledge.lapses(untold=True):
        by_recipe.setdefault(lapse.recipe, []).append(lapse.id)
        known = store.knowledge.of(lapse.recipe)
        if lapse.kind is KnowledgeKind.LINK:
            urls = links.setdefault(lapse.recipe, [])
            urls += [k.url for k in known.links if k.fingerprint == lapse.was and k.url not in urls]
        elif lapse.kind is KnowledgeKind.VERDICT:
            hand = known.verdict_for(lapse.was)
            if hand is not None:
                verdicts[lapse.recipe] = hand.category
        else:
            muted.add(lapse.recipe)
    return [
        LapseNote(
            recipe,
            tuple(ids),
            tuple(links.get(recipe, ())),
            verdicts.get(recipe),
            recipe in muted,
        )
        for recipe, ids in by_recipe.items()
    ]


def red_digest(report: RedReport) -> dict[str, list[object]]:
    """What a red report says that a reader would notice changing: which recipes are red, and each one's
    state, verdict, links and mute. Two reports with the same digest say the same thing."""
    return {
        r.recipe: [
            r.state.value if r.state is not None else None,
            r.verdict.category.value if r.verdict is not None else None,
            r.verdict.by if r.verdict is not None else None,
            sorted(k.url for k in r.issues),
            r.muted.until if r.muted is not None else None,
        ]
        for r in report.rows
    }
