"""Gathering a red recipe's facts for the engine: from the store, the run's log and the recipe clone.

This is the I/O side of deciding; :mod:`bot.verdicts.engine` decides on what it gathers and
:mod:`bot.verdicts.cache` stores the result. Synchronous: the bot calls it through :mod:`bot.service`,
in a worker thread.
"""

from __future__ import annotations

import os
from pathlib import Path

from bot.artifacts.appenv import AppEnv, find_app_env
from bot.artifacts.clone import recipe_clone
from bot.artifacts.compose import EffectiveCompose, read_effective
from bot.artifacts.layout import Layout, run_dir_of
from bot.artifacts.logscan import scan_run_log
from bot.artifacts.logtail import read_tail
from bot.config import Config
from bot.kb import KnowledgeBase
from bot.links import link
from bot.model.records import EvidenceItem, EvidenceKind, Failure, RunKind, RunRow, RunStatus, TestStatus
from bot.probes.records import Clue, ProbeFact
from bot.probes.runner import ProbeRunner
from bot.store import Store
from bot.store.status_run import reruns_of, status_run
from bot.verdicts import labels
from bot.verdicts.clusters import normalize, shared_causes
from bot.verdicts.records import (
    STRUCTURAL_PROBLEMS,
    CutOff,
    Facts,
    RerunFact,
    SharedCause,
    SignatureHit,
    SweepRepeat,
)
from bot.verdicts.staletest import RecipeSearch, is_overlay, parse_expectation

LOG_SIGNATURE_HITS = 10
PRESCAN_ABOVE = 4  # fewer red logs than this are scanned in-process: a pool costs more to start
PRESCAN_WORKERS = 4
SAME_VERSION_RUNS = 10  # the runs of the target's version the engine weighs, newest last
REPEAT_LOOKBACK = 12  # sweep runs walked back from a red one to count the sweeps it failed the same way in


def _failure_signatures(kb: KnowledgeBase, run_id: str, failures: list[Failure]) -> list[SignatureHit]:
    return [hit for f in failures for hit in _failure_hits(kb, run_id, f)]


def _failure_hits(kb: KnowledgeBase, run_id: str, f: Failure) -> list[SignatureHit]:
    hits: list[SignatureHit] = []
    text = f"{f.message}\n{f.text}"
    for sig in kb.signatures:
        if sig.applies_to(f.tier, f.source) and sig.matches_failure(text):
            item = EvidenceItem(
                EvidenceKind.SIGNATURE, run_id, f.junit_file, None, f"{sig.id}: {f.tier}/{f.test}: {f.message}"
            )
            hits.append(SignatureHit(sig.id, sig.category, sig.description, sig.weight, EvidenceKind.FAILURE, item))
    return hits


def _probe(
    probes: ProbeRunner | None, failure_hits: list[tuple[Failure, list[SignatureHit]]], log_hits: list[SignatureHit]
) -> list[ProbeFact]:
    """What the probes find in the texts signatures matched: a failure's whole text, a log hit's excerpt."""
    if probes is None:
        return []
    clues = [
        Clue(f"{f.message}\n{f.text}", tuple((h.signature, h.category) for h in hits))
        for f, hits in failure_hits
        if hits
    ] + [Clue(h.evidence.excerpt, ((h.signature, h.category),)) for h in log_hits]
    return probes.run(clues) if clues else []


def _log_signatures(kb: KnowledgeBase, config: Config, run_id: str, run_dir: Path) -> list[SignatureHit]:
    """Log lines matching a signature, minus those inside a step that declared itself non-fatal."""
    needles = kb.log_needles()
    if not needles:
        return []
    window = kb.nonfatal.window
    scan = scan_run_log(
        run_dir,
        config.ccci.log_name,
        needles,
        context=max(window, config.evidence.context_lines),
        max_hits=LOG_SIGNATURE_HITS,
        ignore=kb.nonfatal.line_markers,
    )
    hits: list[SignatureHit] = []
    for h in scan.hits:
        lines = dict(h.context)
        line = lines[h.line]
        following = [text for n, text in h.context if n > h.line]
        if kb.nonfatal.is_nonfatal(line, following):
            continue
        for sig in kb.signatures:
            if not sig.tiers and sig.matches_log_line(line):
                item = EvidenceItem(
                    EvidenceKind.SIGNATURE, run_id, config.ccci.log_name, h.line, f"{sig.id}:\n{h.excerpt}"
                )
                hits.append(SignatureHit(sig.id, sig.category, sig.description, sig.weight, EvidenceKind.LOG, item))
    return hits


def gather(
    store: Store,
    config: Config,
    kb: KnowledgeBase,
    search: RecipeSearch,
    recipe: str,
    log_hits: list[SignatureHit] | None = None,
    shared_cache: dict[str, list[SharedCause]] | None = None,
    probes: ProbeRunner | None = None,
) -> Facts | None:
    """The facts about a recipe's current red run; None when it is not red (no verdict needed).
    ``probes``: the quick look-ups to run on what the signatures matched (none: no look-up)."""
    target = status_run(store.runs, recipe)
    if target is None or target.status is not RunStatus.RED:
        return None
    failures = store.results.failures(target.run_id)
    run_dir = run_dir_of(config.ccci, target.run_id, store.runs.run_directory(target.run_id))
    reruns = [_rerun_fact(store, kb, r) for r in reruns_of(store.runs, target)]
    if log_hits is None:
        log_hits = _log_signatures(kb, config, target.run_id, run_dir)
    failure_hits = [(f, _failure_hits(kb, target.run_id, f)) for f in failures]
    signatures = [hit for _, hits in failure_hits for hit in hits] + log_hits
    stale = []
    clone = recipe_clone(run_dir, recipe, config.ccci.recipes_dir)
    app_env = find_app_env(run_dir, recipe) if clone is not None else None
    for f in failures:
        expectation = parse_expectation(f.test, f.message, f.text) if is_overlay(f) else None
        if expectation is not None and clone is not None:
            finding = search.check(clone, expectation, app_env)
            if finding is not None:
                stale.append(finding)
    peer_labels, peer_notes = _peer_labels(store, config, recipe, target, clone, app_env, failures)
    problems = [e for e in store.results.evidence(target.run_id) if e.kind in STRUCTURAL_PROBLEMS]
    return Facts(
        recipe=recipe,
        target=target,
        tiers=store.results.tiers(target.run_id),
        failures=failures,
        problems=problems,
        reruns=reruns,
        canonical=store.canonicals.get(recipe),
        signatures=signatures,
        stale=stale,
        peers=_peers(store, config, recipe, failures) + peer_notes,
        same_version_history=store.runs.same_version_runs(target, SAME_VERSION_RUNS),
        shared=_shared(store, target, shared_cache),
        cutoff=_cutoff(config, run_dir, target.run_id, problems),
        peer_labels=peer_labels,
        probes=_probe(probes, failure_hits, log_hits),
        repeated=repeated_across_sweeps(store, target, failures),
        layout=Layout.of(config.ccci),
    )


def failure_shape(recipe: str, failures: list[Failure]) -> frozenset[tuple[str, str, str]]:
    """How a run failed, for comparing sweeps: each failing tier and test with its normalised failure (the
    summary's clusters' normalisation: ids, times, hosts and numbers blanked)."""
    return frozenset((f.tier, f.test, normalize(f.message, recipe)) for f in failures)


def repeated_across_sweeps(store: Store, target: RunRow, failures: list[Failure]) -> SweepRepeat | None:
    """The sweeps just before the target's that were red the same way, if any (one run per sweep: its last).

    Walked back from the target until a sweep whose run was not red, was unverified, or failed otherwise;
    a run with no finish time cannot be placed and is passed over."""
    if target.kind is not RunKind.SWEEP or not failures:
        return None
    shape = failure_shape(target.recipe, failures)
    same = [target]
    sweeps = {target.sweep_id}
    for run in store.runs.runs_up_to(target, REPEAT_LOOKBACK):
        if run.run_id == target.run_id or run.finished is None or (run.sweep_id and run.sweep_id in sweeps):
            continue  # the target itself, or an earlier attempt within a sweep already weighed
        sweeps.add(run.sweep_id)
        if run.status is not RunStatus.RED or run.unverified:
            break
        if failure_shape(run.recipe, store.results.failures(run.run_id)) != shape:
            break
        same.append(run)
    if len(same) < 2:
        return None
    return SweepRepeat(
        sweeps=len(same),
        run_ids=tuple(r.run_id for r in same),
        versions=tuple(dict.fromkeys(r.version or "?" for r in same)),
        failure=normalize(failures[0].message, target.recipe),
    )


def _rerun_fact(store: Store, kb: KnowledgeBase, r: RunRow) -> RerunFact:
    failures = store.results.failures(r.run_id)
    return RerunFact(
        r.run_id,
        r.status,
        r.kind is RunKind.ISOLATION,
        r.unverified,
        frozenset((f.tier, f.test) for f in failures),
        r.finished,
        passed=frozenset((t.tier, t.name) for t in store.results.testcases(r.run_id) if t.status is TestStatus.PASS),
        failures=tuple(failures),
        signatures=tuple(_failure_signatures(kb, r.run_id, failures)),
    )


def _shared(store: Store, target: RunRow, cache: dict[str, list[SharedCause]] | None) -> list[SharedCause]:
    """Shared causes of the target's sweep that include this recipe (computed once per sweep when cached)."""
    sid = target.sweep_id
    if sid is None or target.kind is not RunKind.SWEEP:
        return []
    if cache is None or sid not in cache:
        latest: dict[str, RunRow] = {}
        for r in store.sweeps.runs(sid):
            if r.recipe not in latest or (r.finished or 0) >= (latest[r.recipe].finished or 0):
                latest[r.recipe] = r
        failing = [
            (r.recipe, f.tier, f.message)
            for r in latest.values()
            if r.status is RunStatus.RED
            for f in store.results.failures(r.run_id)
        ]
        found = [SharedCause(sid, g.tier, g.machinery, g.failure, g.recipes) for g in shared_causes(failing)]
        if cache is None:
            return [c for c in found if target.recipe in c.recipes]
        cache[sid] = found
    return [c for c in cache[sid] if target.recipe in c.recipes]


def _cutoff(config: Config, run_dir: Path, run_id: str, problems: list[EvidenceItem]) -> CutOff | None:
    """A run without results.json whose log ends inside a tier was cut off there."""
    if not any(p.kind is EvidenceKind.RESULTS_MISSING for p in problems):
        return None
    tail = read_tail(run_dir, config.ccci.log_name)
    if tail is None or tail.tier is None:
        return None
    return CutOff(
        tail.tier,
        tail.source,
        tail.exit_code,
        tail.last_line,
        f"log ends at line {tail.last_line} inside tier {tail.tier}: {tail.last_text[:200]}",
        config.ccci.log_name,
    )


def _peer_labels(
    store: Store,
    config: Config,
    recipe: str,
    target: RunRow,
    clone: Path | None,
    app_env: AppEnv | None,
    failures: list[Failure],
) -> tuple[list[EvidenceItem], list[EvidenceItem]]:
    """Compose differences with the first peer passing a failing test, and notes on what could not be
    compared (see :mod:`bot.verdicts.labels`)."""
    if clone is None:
        return [], []
    ours: EffectiveCompose | None = None
    notes: dict[str, EvidenceItem] = {}
    for f in {(f.tier, f.test): f for f in failures}.values():
        for peer, peer_run_id in store.results.peers_passing(f.tier, f.test, recipe)[:3]:
            peer_run = store.runs.get(peer_run_id)
            peer_dir = run_dir_of(config.ccci, peer_run_id, store.runs.run_directory(peer_run_id))
            peer_clone = recipe_clone(peer_dir, peer, config.ccci.recipes_dir)
            if peer_run is None or peer_clone is None:
                continue
            ours = ours or read_effective(clone, recipe=recipe, ref=target.version, app_env=app_env)
            theirs = read_effective(peer_clone, recipe=peer, ref=peer_run.version, app_env=find_app_env(peer_dir, peer))
            if ours is None or theirs is None:
                continue
            result = labels.compare(ours, theirs, f.tier)
            notes.update({n.excerpt: n for n in labels.notes(result, f.tier, f.test)})
            found = labels.evidence(result, f.tier, f.test)
            if found:
                return found, list(notes.values())
    return [], list(notes.values())


def _peers(store: Store, config: Config, recipe: str, failures: list[Failure]) -> list[EvidenceItem]:
    """Recipes that pass the same test: how a recipe defect finds its fix (immich vs mattermost-lts)."""
    items: list[EvidenceItem] = []
    for f in {(f.tier, f.test): f for f in failures}.values():
        peers = store.results.peers_passing(f.tier, f.test, recipe)
        if peers:
            names = ", ".join(p for p, _ in peers[:3])
            verb = "passes" if len(peers) == 1 else "pass"
            items.append(
                EvidenceItem(
                    EvidenceKind.PEER,
                    peers[0][1],
                    config.ccci.results_name,
                    None,
                    f"{names} {verb} {f.test} ({f.tier}); compare their recipe with {recipe}'s",
                    link(config.link_base, peers[0][1], config.ccci.results_name),
                )
            )
    return items


def _scan_one(args: tuple[KnowledgeBase, Config, str, Path]) -> list[SignatureHit]:
    kb, config, run_id, run_dir = args
    return _log_signatures(kb, config, run_id, run_dir)


def prescan_logs(store: Store, config: Config, kb: KnowledgeBase, recipes: list[str]) -> dict[str, list[SignatureHit]]:
    """Scan the logs of many red runs for signatures in parallel: it is CPU-bound, one needle pass each."""
    jobs: list[tuple[str, tuple[KnowledgeBase, Config, str, Path]]] = []
    for recipe in recipes:
        target = status_run(store.runs, recipe)
        if target is not None and target.status is RunStatus.RED:
            run_dir = run_dir_of(config.ccci, target.run_id, store.runs.run_directory(target.run_id))
            jobs.append((recipe, (kb, config, target.run_id, run_dir)))
    workers = min(PRESCAN_WORKERS, os.cpu_count() or 1)
    if len(jobs) < PRESCAN_ABOVE or workers < 2:
        return {}
    from concurrent.futures import ProcessPoolExecutor  # here: `why` on the CLI never needs a pool
    from multiprocessing import get_context

    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("forkserver")) as pool:
        return dict(zip([r for r, _ in jobs], pool.map(_scan_one, [j for _, j in jobs]), strict=True))
