"""The latest evidence about one recipe (the `why` answer), assembled from stored history.

Which run is the recipe's status, and which reruns count, is the status-run rule
(:mod:`bot.store.status_run`).
"""

from __future__ import annotations

import time
from typing import Protocol

from bot.answers.repolinks import fill, repo_links
from bot.answers.suggest import UnknownNameError, closest
from bot.artifacts.timefmt import iso, short
from bot.config import Config
from bot.links import link
from bot.memory.disagree import disagreeing
from bot.memory.recall import effective, standing
from bot.model.answers import RepoLinks, RerunOutcome, WhyAnswer
from bot.model.records import Canonical, EvidenceItem, EvidenceKind, Failure, RunKind, RunRow, RunStatus, Verdict
from bot.store import Store
from bot.store.status_run import reruns_of, target_run


class VerdictSource(Protocol):
    """Where answers get verdicts from (see :class:`bot.verdicts.cache.Verdicts`)."""

    def for_run(self, recipe: str, run_id: str) -> tuple[Verdict, list[EvidenceItem]] | None: ...


STREAK_PAGE = 64


def red_streak(store: Store, target: RunRow) -> tuple[RunRow | None, int]:
    """First run of the current red streak and its length, over the runs of the target's kind.

    One page of the newest runs settles a short streak; a longer one is bounded and counted in SQL
    (:meth:`bot.store.runs.RunStore.long_red_streak`), so neither reads the recipe's history into Python."""
    first: RunRow | None = None
    count = 0
    page = store.runs.runs_up_to(target, STREAK_PAGE)
    for r in page:
        if r.status is not RunStatus.RED:
            return first, count
        first, count = r, count + 1
    if len(page) < STREAK_PAGE:
        return first, count
    return store.runs.long_red_streak(target)


def why(store: Store, config: Config, recipe: str, verdicts: VerdictSource | None = None) -> WhyAnswer:
    """Build the answer; raise :class:`UnknownNameError` for a recipe never seen."""
    last = store.runs.last_runs_by_kind(recipe)
    if not last:
        raise UnknownNameError("recipe", recipe, closest(recipe, store.runs.recipes()))
    base = config.link_base
    canonical = store.canonicals.get(recipe)
    target = target_run(last)
    if target is None:
        only_pr = RepoLinks(repository=fill(config.links.recipe_url, recipe=recipe))
        return WhyAnswer(
            *(recipe, RunStatus.UNKNOWN, None, None, None, None, False, [], [], [], None, canonical, None, 0, None),
            repo=only_pr,
        )

    failures = store.results.failures(target.run_id) if target.status is RunStatus.RED else []
    evidence = [_failure_item(f, target.run_id, base) for f in failures]
    for item in store.results.evidence(target.run_id):
        evidence.append(_with_url(item, base))
    reruns = reruns_of(store.runs, target)
    for r in reruns:
        evidence.append(_rerun_item(r, target, config))
    if canonical is not None:
        evidence.append(_canonical_item(canonical, target, config))
    first_red, red_runs = red_streak(store, target) if target.status is RunStatus.RED else (None, 0)
    if first_red is not None:
        evidence.append(
            EvidenceItem(
                kind=EvidenceKind.HISTORY,
                run_id=first_red.run_id,
                path=config.ccci.results_name,
                line=None,
                excerpt=(
                    f"red since {short(first_red.finished)} (run {first_red.run_id}), "
                    f"{red_runs} {target.kind.value} run(s) in a row"
                ),
                url=link(base, first_red.run_id, config.ccci.results_name),
            )
        )
    verdict = None
    if verdicts is not None and target.status is RunStatus.RED:
        found = verdicts.for_run(recipe, target.run_id)
        if found is not None:
            verdict = found[0]
            seen = {(e.kind, e.run_id, e.path, e.line) for e in evidence}
            have_canonical = any(e.kind is EvidenceKind.CANONICAL for e in evidence)  # one record per recipe
            evidence += [
                e
                for e in found[1]
                if (e.kind, e.run_id, e.path, e.line) not in seen
                and not (e.kind is EvidenceKind.CANONICAL and have_canonical)
            ]
    known = standing(store, target, time.time())
    rules_verdict = verdict
    verdict = effective(rules_verdict, known)
    hand = known.hand_verdict if known is not None else None
    lapsed = []
    if known is not None and known.lapsed_verdict is not None:
        v = known.lapsed_verdict
        lapsed.append(f"verdict by hand {v.category} ({v.by}, {short(v.at)}): given for another failure, {v.shape}")
    if known is not None and known.lapsed_mute is not None:
        m = known.lapsed_mute
        lapsed.append(f"mute until {short(m.until)} ({m.by}): set for another failure, {m.shape}")
    return WhyAnswer(
        recipe=recipe,
        status=target.status,
        version=target.version,
        run_id=target.run_id,
        kind=target.kind,
        finished=target.finished,
        unverified=target.unverified,
        failures=failures,
        evidence=evidence,
        reruns=[RerunOutcome(r.run_id, r.status, r.kind is RunKind.ISOLATION, r.finished) for r in reruns],
        verdict=verdict,
        canonical=canonical,
        red_since=first_red.finished if first_red else None,
        red_runs=red_runs,
        run_url=link(base, target.run_id, ""),
        known_issues=list(known.known_issues) if known is not None else [],
        muted=known.mute if known is not None else None,
        rules_verdict=rules_verdict if hand is not None else None,
        disagreement=disagreeing(hand, reruns, rules_verdict) if hand is not None else [],
        state=known.state if known is not None else None,
        fingerprint=known.shape if known is not None else "",
        lapsed=lapsed,
        repo=repo_links(store, config, target, first_red, failures),
    )


def _failure_item(f: Failure, run_id: str, base: str | None) -> EvidenceItem:
    return EvidenceItem(
        kind=EvidenceKind.FAILURE,
        run_id=run_id,
        path=f.junit_file,
        line=None,
        excerpt=f"{f.tier}/{f.source} {f.test}: {f.message}",
        url=link(base, run_id, f.junit_file),
    )


def _with_url(item: EvidenceItem, base: str | None) -> EvidenceItem:
    return EvidenceItem(
        item.kind, item.run_id, item.path, item.line, item.excerpt, link(base, item.run_id, item.path, item.line)
    )


def _rerun_item(r: RunRow, target: RunRow, config: Config) -> EvidenceItem:
    how = "isolation run" if r.kind is RunKind.ISOLATION else f"{r.kind.value} run"
    status = r.status.value + (" (unverified)" if r.unverified else "")
    return EvidenceItem(
        kind=EvidenceKind.RERUN,
        run_id=r.run_id,
        path=config.ccci.results_name,
        line=None,
        excerpt=f"{how} {r.run_id} of {r.version} finished {short(r.finished)}: {status}",
        url=link(config.link_base, r.run_id, config.ccci.results_name),
    )


def _canonical_item(c: Canonical, target: RunRow, config: Config) -> EvidenceItem:
    relation = ""
    if c.ts is not None and target.finished is not None:
        when = "after" if c.ts > target.finished else "before"
        same = "the same version" if c.version == target.version else f"version {c.version}"
        relation = f"; written {when} run {target.run_id}, for {same}"
    return EvidenceItem(
        kind=EvidenceKind.CANONICAL,
        run_id=None,
        path=config.ccci.canonical_name,  # the warm dir is the host's: its path means nothing in chat
        line=None,
        excerpt=f"canonical {c.version} (commit {c.commit or '?'}) written {iso(c.ts) or '?'}{relation}",
        url=None,
    )


def run_evidence(store: Store, run_id: str) -> tuple[Verdict | None, list[EvidenceItem]]:
    """A run's stored verdict and its evidence: what ingest found, then what the verdict cites, once each."""
    found = store.results.evidence(run_id)
    stored = store.verdicts.get(run_id)
    if stored is None:
        return None, found
    return stored.verdict, found + [e for e in stored.evidence if e not in found]


def cited_lines(store: Store, run_id: str, path: str) -> set[int]:
    """Lines of one of the run's files that its evidence points at (the failure lines of its log)."""
    return {e.line for e in run_evidence(store, run_id)[1] if e.line and e.path == path}
