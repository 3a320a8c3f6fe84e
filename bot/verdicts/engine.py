"""The verdict engine: pure, given a red run's facts it returns one verdict.

Evidence decides in this order (the taxonomy in docs/knowledge-base.md): (a) rerun evidence — isolation runs of the same
version, and a canonical written after the red; (b) structural facts — unverified tiers, harness
errors, a runner that died; (c) the knowledge base of signatures. A verified fact about the recipe
(the stale-test search) picks among deterministic categories. Confidence is honest: a pattern alone
stays below 0.7 and the reason says what would decide it — in neutral words: the command that does
it is the chat's or the CLI's business (``Decision.settle``). The numbers are in
:mod:`bot.verdicts.confidence`.
"""

from __future__ import annotations

from itertools import pairwise

from bot.artifacts.timefmt import short
from bot.model.records import (
    Category,
    EvidenceItem,
    EvidenceKind,
    Failure,
    NextStep,
    RunKind,
    RunRow,
    RunStatus,
    TestStatus,
)
from bot.verdicts import confidence as c
from bot.verdicts.records import (
    STRUCTURAL_PROBLEMS,
    Decision,
    Facts,
    RerunFact,
    SharedCause,
)
from bot.verdicts.staletest import Presence, StaleFinding

PATTERN_CAP = c.PATTERN_CAP
UNKNOWN_CONFIDENCE = c.UNKNOWN
SETTLE_BY_RERUN = "an isolation rerun would tell a flake from a deterministic failure"


def _fmt_tests(failures: list[Failure], limit: int = 2) -> str:
    names = list(dict.fromkeys(f"{f.tier}/{f.test}" for f in failures))
    more = f" (+{len(names) - limit})" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more if names else "no failing test"


def _where(target: RunRow) -> str:
    return (
        f"{target.kind.value} run {target.run_id}" if target.kind is not RunKind.ISOLATION else f"run {target.run_id}"
    )


def _flips(history: list[RunRow]) -> int:
    statuses = [r.status for r in history if r.status is not RunStatus.UNKNOWN and not r.unverified]
    return sum(1 for a, b in pairwise(statuses) if a is not b)


def _structural(f: Facts) -> tuple[str, list[EvidenceItem]] | None:
    """Unverified tiers, harness errors, a runner that died or was cut off: the CI failed, not the recipe."""
    unver = [t.name for t in f.tiers if t.status is TestStatus.UNVER]
    problems = [p for p in f.problems if p.kind in STRUCTURAL_PROBLEMS]
    errors_only = bool(f.failures) and all(x.status is TestStatus.ERROR for x in f.failures)
    if f.cutoff is not None:
        cut = f.cutoff
        source = f" ({cut.source})" if cut.source else ""
        code = f", exit {cut.exit_code}" if cut.exit_code is not None else ""
        deadline = " — cc-ci's deadline" if cut.exit_code in (142, 143) else ""
        return (
            f"the run was cut off while tier {cut.tier}{source} was running{code}{deadline}: "
            f"no results.json, and the log ends inside that tier",
            [_cutoff_item(f), *problems],
        )
    if f.target.unverified:
        return f"tiers {', '.join(unver) or '?'} are unverified (should have run and did not)", problems
    if unver and (errors_only or problems):
        why = "harness errors in " + _fmt_tests(f.failures) if errors_only else problems[0].excerpt
        return f"{why}; then tiers {', '.join(unver)} unverified", problems
    if problems and not f.failures:
        return problems[0].excerpt, problems
    return None


def _shared_item(s: SharedCause) -> EvidenceItem:
    return EvidenceItem(
        kind=EvidenceKind.SHARED_CAUSE,
        run_id=None,
        path=s.sweep_id,
        line=None,
        excerpt=(
            f"{len(s.recipes)} recipes of {s.sweep_id} fail in {s.tier} the same way, in {s.machinery} they share "
            f"({', '.join(s.recipes)}): {s.failure}"
        ),
    )


def _cutoff_item(f: Facts) -> EvidenceItem:
    assert f.cutoff is not None
    return EvidenceItem(EvidenceKind.CUT_OFF, f.target.run_id, f.cutoff.log, f.cutoff.last_line, f.cutoff.excerpt)


def _disagreeing(f: Facts, others: list[RerunFact], tests: str) -> Decision:
    """Isolation reruns red on another tier or test than the sweep run: evidence of their own.

    The sweep's failure did not reproduce alone, and the recipe is not green alone either: say both,
    take the category from what the reruns show, and keep the confidence low (they disagree)."""
    seen = sorted({f"{t}/{n}" for r in others for t, n in r.failing})
    passed = [t for t in f.failing if all(t in r.passed for r in others)]
    original = (
        f"the sweep's failure ({tests}) passed alone"
        if passed and len(passed) == len(f.failing)
        else f"the sweep's failure ({tests}) did not reproduce alone"
    )
    there = f"{len(others)} isolation rerun(s) of {f.target.version or '?'} failed elsewhere ({', '.join(seen[:3])})"
    hits = sorted(
        (h for r in others for h in r.signatures),
        key=lambda h: (h.where is EvidenceKind.FAILURE, h.weight),
        reverse=True,
    )
    errors_only = all(x.status is TestStatus.ERROR for r in others for x in r.failures) and any(
        r.failures for r in others
    )
    items = [_rerun_item(r) for r in others]
    if hits:
        best = hits[0]
        return Decision(
            best.category,
            min(best.weight, c.DISAGREEING_RERUN_CAP),
            f"{original}, but {there}: the rerun matches {best.signature}: {best.description}",
            [*items, best.evidence],
            NextStep.MORE_RERUNS,
        )
    if errors_only:
        return Decision(
            Category.INFRA,
            c.DISAGREEING_RERUN_CAP,
            f"{original}, but {there}, with harness errors — the CI, not evidence against the recipe",
            items,
            NextStep.MORE_RERUNS,
        )
    return Decision(
        Category.RECIPE_DEFECT,
        c.DISAGREEING_RERUN_UNEXPLAINED,
        f"{original}, but {there}: red alone too, on another test; more reruns would show which failure repeats",
        items + f.peer_labels + f.peers,
        NextStep.MORE_RERUNS,
    )


def decide(f: Facts) -> Decision | None:
    """The verdict for a red run, or None for a run that is not red."""
    if f.target.status is not RunStatus.RED:
        return None
    tests = _fmt_tests(f.failures)
    version = f.target.version or "?"
    iso = [r for r in f.reruns if r.isolated and not r.unverified and r.status is not RunStatus.UNKNOWN]
    greens = [r for r in iso if r.status is RunStatus.GREEN]
    same = [r for r in iso if r.status is RunStatus.RED and r.failing & f.failing]
    elsewhere = [r for r in iso if r.status is RunStatus.RED and r.failing and not r.failing & f.failing]
    canon_after = (
        f.canonical is not None
        and f.canonical.version == f.target.version
        and f.canonical.ts is not None
        and f.target.finished is not None
        and f.canonical.ts > f.target.finished
    )
    rerun_items = [_rerun_item(r) for r in iso]
    canon_items = [_canonical_item(f)] if canon_after else []
    # Advise a rerun only when none exists: with reruns, only more of them can help.
    unsettled = NextStep.MORE_RERUNS if iso else NextStep.ISOLATION_RERUN
    settle_text = (
        SETTLE_BY_RERUN if not iso else "more isolation reruns would tell a flake from a deterministic failure"
    )
    also = (
        f"; {len(elsewhere)} isolation rerun(s) failed elsewhere ("
        + ", ".join(sorted({f"{t}/{n}" for r in elsewhere for t, n in r.failing})[:3])
        + ")"
        if elsewhere
        else ""
    )

    # (a) rerun evidence: only an isolation run (or a fresh canonical) settles flake vs deterministic.
    if greens or canon_after:
        if same:
            return Decision(
                Category.FLAKE,
                min(c.INTERMITTENT_BASE + c.INTERMITTENT_PER_RERUN * len(iso), c.INTERMITTENT_CAP),
                f"intermittent even alone: {tests} failed in {len(same)} of {len(iso)} isolation reruns of "
                f"{version} and passed in {len(greens)}{also}",
                rerun_items + canon_items,
            )
        parts = []
        if greens:
            parts.append(f"green in {len(greens)} of {len(iso)} isolation rerun(s) of {version}")
        if canon_after and f.canonical is not None:
            parts.append(f"a canonical for {version} was written after it ({short(f.canonical.ts)})")
        confidence = (
            (c.FLAKE_GREEN_AND_CANONICAL if greens and canon_after else c.FLAKE_GREEN_ALONE)
            + c.FLAKE_PER_EXTRA_GREEN * max(0, len(greens) - 1)
            - (c.INTERMITTENT_PER_RERUN * len(elsewhere))
        )
        under = " under sweep load" if f.target.kind is RunKind.SWEEP else ""
        return Decision(
            Category.FLAKE,
            min(confidence, c.FLAKE_CAP),
            f"red{under} in {_where(f.target)} ({tests}), but " + " and ".join(parts) + also,
            rerun_items + canon_items,
        )
    if elsewhere and not same:
        return _disagreeing(f, elsewhere, tests)
    deterministic = bool(same)
    partly = bool(same) and bool(elsewhere)
    det_confidence = (
        c.PARTLY_REPRODUCED if partly else (c.DETERMINISTIC_ONCE if len(same) == 1 else c.DETERMINISTIC_REPEATED)
    )
    det_reason = (
        f"red again with the same failing test ({tests}) in {len(same)} of {len(iso)} isolation rerun(s) of "
        f"{version}{also}"
    )

    # (b) structural facts: the CI machinery, not the recipe.
    structural = None if deterministic else _structural(f)
    if structural is not None:
        why, items = structural
        infra_sigs = [s for s in f.signatures if s.category is Category.INFRA]
        sig_note = f"; matches {infra_sigs[0].signature}: {infra_sigs[0].description}" if infra_sigs else ""
        return Decision(
            Category.INFRA,
            c.INFRA_STRUCTURAL_WITH_SIGNATURE if infra_sigs else c.INFRA_STRUCTURAL,
            f"{why}{sig_note} — not evidence against the recipe",
            items + [s.evidence for s in infra_sigs[:2]] + [_shared_item(x) for x in f.shared],
        )

    # A verified fact about the recipe: the test expects a state no release has.
    nowhere = [s for s in f.stale if s.where is Presence.NOWHERE]
    main_only = [s for s in f.stale if s.where is Presence.MAIN_ONLY]
    if nowhere or main_only:
        finding = (nowhere or main_only)[0]
        place = (
            f"in no release tag ({finding.tags_checked} checked) and not in {finding.main_ref or 'main'}"
            if finding.where is Presence.NOWHERE
            else f"only in {finding.main_ref} (unreleased): the test is ahead of the release"
        )
        confirmed = f"; {det_reason}" if deterministic else ""
        return Decision(
            Category.STALE_TEST,
            (c.STALE_CONFIRMED if deterministic else c.STALE_FACT)
            - (c.STALE_MAIN_ONLY_PENALTY if finding.where is Presence.MAIN_ONLY else 0.0),
            f"overlay test {finding.test} expects {finding.expected}, which exists {place}{confirmed}",
            [_stale_item(s) for s in nowhere + main_only] + rerun_items,
        )

    # (c) the knowledge base of signatures; failure-text hits outrank log hits.
    ranked = sorted(f.signatures, key=lambda s: (s.where is EvidenceKind.FAILURE, s.weight), reverse=True)
    labels = f"; {f.peer_labels[0].excerpt}" if f.peer_labels else ""
    label_bonus = c.PEER_LABELS_BONUS if f.peer_labels else 0.0
    if deterministic:
        fitting = [s for s in ranked if s.category in (Category.RECIPE_DEFECT, Category.UPSTREAM_DEFECT)]
        if fitting:
            best = fitting[0]
            return Decision(
                best.category,
                min(det_confidence + c.DETERMINISTIC_SIGNATURE_BONUS + label_bonus, c.FLAKE_CAP),
                f"{det_reason}; matches {best.signature}: {best.description}{labels}",
                [*rerun_items, best.evidence, *f.peer_labels, *f.peers],
            )
        peer = f"; {f.peers[0].excerpt}" if f.peers and not f.peer_labels else ""
        return Decision(
            Category.RECIPE_DEFECT,
            min(det_confidence + label_bonus, c.FLAKE_CAP),
            f"{det_reason}{labels}{peer}",
            rerun_items + f.peer_labels + f.peers,
            NextStep.MORE_RERUNS if partly else None,
        )
    if f.shared:
        shared = f.shared[0]
        return Decision(
            Category.INFRA,
            c.SHARED_CAUSE,
            f"{len(shared.recipes)} recipes of this sweep fail in {shared.tier} the same way, in {shared.machinery} "
            f"they share ({', '.join(shared.recipes)}): a shared cause, not this recipe; {settle_text}",
            [_shared_item(x) for x in f.shared] + [s.evidence for s in ranked[:2]],
            unsettled,
        )
    if ranked:
        best = ranked[0]
        agreeing = [s for s in ranked if s.category is best.category]
        return Decision(
            best.category,
            min(best.weight, c.PATTERN_CAP),
            f"matches {best.signature} ({best.where}): {best.description} Pattern only — {settle_text}",
            [s.evidence for s in agreeing[:3]]
            + (f.peer_labels + f.peers if best.category is Category.RECIPE_DEFECT else []),
            unsettled,
        )
    flips = _flips(f.same_version_history)
    if flips >= 2:
        return Decision(
            Category.FLAKE,
            c.FLIPPING,
            f"{version} flipped red/green {flips} times across its last {len(f.same_version_history)} runs; "
            f"{settle_text}",
            [],
            unsettled,
        )
    return Decision(
        Category.UNKNOWN,
        c.UNKNOWN,
        f"{tests} failed; no {'deciding ' if iso else ''}isolation rerun, no canonical newer than the red "
        f"and no known signature — {settle_text}",
        f.peer_labels + f.peers,
        unsettled,
    )


def _rerun_item(r: RerunFact) -> EvidenceItem:
    failing = ", ".join(sorted(f"{t}/{n}" for t, n in r.failing)) or "nothing failed"
    return EvidenceItem(
        kind=EvidenceKind.RERUN,
        run_id=r.run_id,
        path="results.json",
        line=None,
        excerpt=f"isolation run {r.run_id}: {r.status.value} ({failing})",
    )


def _canonical_item(f: Facts) -> EvidenceItem:
    c = f.canonical
    assert c is not None
    return EvidenceItem(
        kind=EvidenceKind.CANONICAL,
        run_id=None,
        path="canonical.json",
        line=None,
        excerpt=(
            f"canonical {c.version} written {short(c.ts)}, after red run {f.target.run_id} ({short(f.target.finished)})"
        ),
    )


def _stale_item(s: StaleFinding) -> EvidenceItem:
    where = {
        Presence.NOWHERE: f"found in none of {s.tags_checked} release tags nor {s.main_ref or 'main'}",
        Presence.MAIN_ONLY: f"found only in {s.main_ref}, in no release tag",
    }.get(s.where, f"found in {', '.join(s.found_in)}")
    return EvidenceItem(
        kind=EvidenceKind.STALE_TEST,
        run_id=None,
        path=s.clone,
        line=None,
        excerpt=f"{s.test} expects {s.expected}: {where}",
    )
