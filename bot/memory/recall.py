"""What a red inherits from what the operators recorded, and what lapses when it fails differently.

At ingest (:func:`remember`) every red run not fingerprinted yet gets its fingerprint, and every
recipe with something recorded is checked against its current run: a red with a different
fingerprint is news, so the link, hand verdict or mute recorded against the old one lapses, recorded
once in the store for the next report to tell. Nothing is copied from run to run: a later red with
the same fingerprint finds the same rows by its fingerprint (:func:`standings`), so "kept" and
"lapsed" can never disagree with what is stored.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.memory.fingerprint import fingerprint
from bot.model.knowledge import (
    Fingerprint,
    HandVerdict,
    Knowledge,
    KnowledgeKind,
    KnownIssue,
    Lapse,
    Mute,
    PrintHits,
    Standing,
)
from bot.model.records import RunRow, RunStatus, Verdict, VerdictOrigin
from bot.store import Store
from bot.store.status_run import status_run, status_runs

OPERATOR_CONFIDENCE = 1.0  # an operator's verdict is not a probability; calibration compares against it


def remember(store: Store, now: float, runs_changed: bool = True) -> list[Lapse]:
    """Fingerprint the red runs that have none; record the lapses of recipes whose red changed.

    ``runs_changed``: whether the scan before changed any run. A lapse only comes from a recipe's current
    run changing (what an operator records is always against the current failure), so a scan that found
    nothing new skips the check, and a poll of an idle runs dir stays as cheap as before the memory."""
    todo = store.knowledge.unprinted_red_runs()
    store.knowledge.save_prints(
        (run_id, recipe, fingerprint(recipe, store.results.failures(run_id))) for run_id, recipe in todo
    )
    if not todo and not runs_changed:
        return []
    known = store.knowledge.everything()
    if not known:
        return []
    current = {recipe: status_run(store.runs, recipe) for recipe in known}
    reds = {recipe: run for recipe, run in current.items() if run is not None and run.status is RunStatus.RED}
    prints = store.knowledge.prints(run.run_id for run in reds.values())
    found = []
    for recipe, run in reds.items():
        now_key, shape = prints.get(run.run_id) or _computed(store, run)
        for kind, was in _recorded(known[recipe], now):
            if was != now_key and not _has(known[recipe], kind, now_key):
                found.append((kind, recipe, was, now_key, shape, run.run_id))
    return store.knowledge.record_lapses(found, now)


def _recorded(known: Knowledge, now: float) -> list[tuple[KnowledgeKind, str]]:
    """(kind, fingerprint) of what was recorded last of each kind (an expired mute no longer counts)."""
    out = []
    if known.links:
        out.append((KnowledgeKind.LINK, max(known.links, key=lambda link: link.at).fingerprint))
    if known.verdicts:
        out.append((KnowledgeKind.VERDICT, max(known.verdicts, key=lambda v: v.at).fingerprint))
    if known.mute is not None and known.mute.active(now):
        out.append((KnowledgeKind.MUTE, known.mute.fingerprint))
    return out


def _has(known: Knowledge, kind: KnowledgeKind, key: str) -> bool:
    if kind is KnowledgeKind.LINK:
        return bool(known.links_for(key))
    if kind is KnowledgeKind.VERDICT:
        return known.verdict_for(key) is not None
    return known.mute is not None and known.mute.fingerprint == key


def _computed(store: Store, run: RunRow) -> tuple[str, str]:
    """A red run's fingerprint read from its stored failures (answers from a store not scanned since)."""
    fp = fingerprint(run.recipe, store.results.failures(run.run_id))
    return fp.key, fp.shape


def current_fingerprint(store: Store, run: RunRow) -> Fingerprint:
    """The fingerprint the operators' commands record against: the recipe's current red run's."""
    return fingerprint(run.recipe, store.results.failures(run.run_id))


def standings(store: Store, runs: Iterable[RunRow], now: float) -> dict[str, Standing]:
    """recipe → its standing, for these runs (each recipe's current one), reading the knowledge once."""
    runs = list(runs)
    known = store.knowledge.everything()
    reds = [r for r in runs if r.status is RunStatus.RED]
    prints = store.knowledge.prints(r.run_id for r in reds)
    pairs = [(link.recipe, link.fingerprint) for r in runs if r.recipe in known for link in known[r.recipe].links]
    hits = store.knowledge.hits(pairs)
    out: dict[str, Standing] = {}
    for run in runs:
        key, shape = (prints.get(run.run_id) or _computed(store, run)) if run.status is RunStatus.RED else (None, "")
        out[run.recipe] = _standing(run, key, shape, known.get(run.recipe), hits, now)
    return out


def standing(store: Store, run: RunRow | None, now: float) -> Standing | None:
    """One recipe's standing (None when it has no released run)."""
    return standings(store, [run], now)[run.recipe] if run is not None else None


def standing_of(store: Store, recipe: str, now: float) -> Standing | None:
    return standing(store, status_run(store.runs, recipe), now)


def all_standings(store: Store, now: float) -> dict[str, Standing]:
    """Every recipe's standing by its status run."""
    return standings(store, status_runs(store.runs).values(), now)


def _standing(
    run: RunRow,
    key: str | None,
    shape: str,
    known: Knowledge | None,
    hits: dict[tuple[str, str], PrintHits],
    now: float,
) -> Standing:
    if known is None:
        return Standing(run.recipe, run.run_id, key, shape)
    issues = []
    for link in known.links:
        seen = hits.get((link.recipe, link.fingerprint)) or PrintHits(link.recipe, link.fingerprint, 0, None, None)
        matches = key is not None and link.fingerprint == key
        issues.append(
            KnownIssue(
                link.url, link.note, link.by, link.at, seen.runs, seen.first_seen, seen.last_seen, matches, link.shape
            )
        )
    hand = known.verdict_for(key) if key is not None else None
    latest = max(known.verdicts, key=lambda v: v.at) if known.verdicts else None
    lapsed_verdict = latest if key is not None and hand is None else None
    mute: Mute | None = known.mute if known.mute is not None and known.mute.active(now) else None
    lapsed_mute = mute if mute is not None and key is not None and mute.fingerprint != key else None
    if lapsed_mute is not None or key is None:
        mute = None
    return Standing(run.recipe, run.run_id, key, shape, tuple(issues), hand, mute, lapsed_verdict, lapsed_mute)


def operator_verdict(hand: HandVerdict) -> Verdict:
    """A verdict given by hand, as the answers show it: it wins over the rules and says whose it is."""
    reason = hand.reason or f"set by hand by {hand.by}"
    return Verdict(hand.category, OPERATOR_CONFIDENCE, reason, source=VerdictOrigin.OPERATOR, by=hand.by)


def effective(rules: Verdict | None, standing: Standing | None) -> Verdict | None:
    """The verdict to show: the operator's when one applies, else the rules'."""
    if standing is not None and standing.hand_verdict is not None:
        return operator_verdict(standing.hand_verdict)
    return rules
