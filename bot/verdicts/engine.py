"""The verdict engine: pure, given a red run's facts it returns one verdict.

Evidence decides in this order (the taxonomy in docs/knowledge-base.md): (a) rerun evidence — isolation runs of the same
version, and a canonical written after the red; (b) structural facts — unverified tiers, harness
errors, a runner that died; (c) the knowledge base of signatures. A verified fact about the recipe
(the stale-test search) picks among deterministic categories. Confidence is honest: a pattern alone
stays below 0.7 and the reason says what would decide it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

from bot.artifacts.timefmt import short
from bot.model import (
    Canonical,
    Category,
    EvidenceItem,
    EvidenceKind,
    Failure,
    RunKind,
    RunRow,
    RunStatus,
    TestStatus,
    TierResult,
)
from bot.verdicts.staletest import Presence, StaleFinding

PATTERN_CAP = 0.65  # a pattern alone is a suspicion, never a finding
UNKNOWN_CONFIDENCE = 0.3
STRUCTURAL_PROBLEMS = (EvidenceKind.RESULTS_MISSING, EvidenceKind.RESULTS_UNREADABLE, EvidenceKind.JUNIT_UNREADABLE)


@dataclass(frozen=True)
class RerunFact:
    run_id: str
    status: RunStatus
    isolated: bool
    unverified: bool
    failing: frozenset[tuple[str, str]]
    finished: float | None


@dataclass(frozen=True)
class SignatureHit:
    signature: str
    category: Category
    description: str
    weight: float
    where: EvidenceKind  # FAILURE (the failure text matched) or LOG
    evidence: EvidenceItem


@dataclass(frozen=True)
class Facts:
    """Everything the engine may weigh about one red run; gathered elsewhere (I/O lives there)."""

    recipe: str
    target: RunRow
    tiers: list[TierResult]
    failures: list[Failure]
    problems: list[EvidenceItem]
    reruns: list[RerunFact]
    canonical: Canonical | None
    signatures: list[SignatureHit]
    stale: list[StaleFinding]
    peers: list[EvidenceItem]
    same_version_history: list[RunRow] = field(default_factory=list)

    @property
    def failing(self) -> frozenset[tuple[str, str]]:
        return frozenset((f.tier, f.test) for f in self.failures)


@dataclass(frozen=True)
class Decision:
    category: Category
    confidence: float
    reason: str
    evidence: list[EvidenceItem]


def _fmt_tests(failures: list[Failure], limit: int = 2) -> str:
    names = list(dict.fromkeys(f"{f.tier}/{f.test}" for f in failures))
    more = f" (+{len(names) - limit})" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more if names else "no failing test"


def _where(target: RunRow) -> str:
    return (
        f"{target.kind.value} run {target.run_id}" if target.kind is not RunKind.ISOLATION else f"run {target.run_id}"
    )


def _rerun_hint(recipe: str) -> str:
    return f"run `!ccci rerun {recipe}` to tell a flake from a deterministic failure"


def _flips(history: list[RunRow]) -> int:
    statuses = [r.status for r in history if r.status is not RunStatus.UNKNOWN and not r.unverified]
    return sum(1 for a, b in pairwise(statuses) if a is not b)


def _structural(f: Facts) -> tuple[str, list[EvidenceItem]] | None:
    """Unverified tiers, harness errors, a runner that died: the CI failed, not the recipe."""
    unver = [t.name for t in f.tiers if t.status is TestStatus.UNVER]
    problems = [p for p in f.problems if p.kind in STRUCTURAL_PROBLEMS]
    errors_only = bool(f.failures) and all(x.status is TestStatus.ERROR for x in f.failures)
    if f.target.unverified:
        return f"tiers {', '.join(unver) or '?'} are unverified (should have run and did not)", problems
    if unver and (errors_only or problems):
        why = "harness errors in " + _fmt_tests(f.failures) if errors_only else problems[0].excerpt
        return f"{why}; then tiers {', '.join(unver)} unverified", problems
    if problems and not f.failures:
        return problems[0].excerpt, problems
    return None


def decide(f: Facts) -> Decision | None:
    """The verdict for a red run, or None for a run that is not red."""
    if f.target.status is not RunStatus.RED:
        return None
    tests = _fmt_tests(f.failures)
    version = f.target.version or "?"
    iso = [r for r in f.reruns if r.isolated and not r.unverified and r.status is not RunStatus.UNKNOWN]
    greens = [r for r in iso if r.status is RunStatus.GREEN]
    same = [r for r in iso if r.status is RunStatus.RED and r.failing & f.failing]
    canon_after = (
        f.canonical is not None
        and f.canonical.version == f.target.version
        and f.canonical.ts is not None
        and f.target.finished is not None
        and f.canonical.ts > f.target.finished
    )
    rerun_items = [_rerun_item(r) for r in iso]
    canon_items = [_canonical_item(f)] if canon_after else []

    # (a) rerun evidence: only an isolation run (or a fresh canonical) settles flake vs deterministic.
    if greens or canon_after:
        if same:
            return Decision(
                Category.FLAKE,
                min(0.6 + 0.05 * len(iso), 0.8),
                f"intermittent even alone: {tests} failed in {len(same)} of {len(iso)} isolation reruns of "
                f"{version} and passed in {len(greens)}",
                rerun_items + canon_items,
            )
        parts = []
        if greens:
            parts.append(f"green in {len(greens)} of {len(iso)} isolation rerun(s) of {version}")
        if canon_after and f.canonical is not None:
            parts.append(f"a canonical for {version} was written after it ({short(f.canonical.ts)})")
        confidence = 0.8 + (0.1 if greens and canon_after else 0.0) + 0.03 * max(0, len(greens) - 1)
        under = " under sweep load" if f.target.kind is RunKind.SWEEP else ""
        return Decision(
            Category.FLAKE,
            min(confidence, 0.95),
            f"red{under} in {_where(f.target)} ({tests}), but " + " and ".join(parts),
            rerun_items + canon_items,
        )
    deterministic = bool(same) and len(same) == len(iso)
    det_confidence = 0.85 if len(same) == 1 else 0.92
    det_reason = (
        f"red again with the same failing test ({tests}) in {len(same)} of {len(iso)} isolation rerun(s) of {version}"
    )

    # (b) structural facts: the CI machinery, not the recipe.
    structural = None if deterministic else _structural(f)
    if structural is not None:
        why, items = structural
        infra_sigs = [s for s in f.signatures if s.category is Category.INFRA]
        sig_note = f"; matches {infra_sigs[0].signature}: {infra_sigs[0].description}" if infra_sigs else ""
        return Decision(
            Category.INFRA,
            0.9 if infra_sigs else 0.85,
            f"{why}{sig_note} — not evidence against the recipe",
            items + [s.evidence for s in infra_sigs[:2]],
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
            (0.95 if deterministic else 0.8) - (0.05 if finding.where is Presence.MAIN_ONLY else 0.0),
            f"overlay test {finding.test} expects {finding.expected}, which exists {place}{confirmed}",
            [_stale_item(s) for s in nowhere + main_only] + rerun_items,
        )

    # (c) the knowledge base of signatures; failure-text hits outrank log hits.
    ranked = sorted(f.signatures, key=lambda s: (s.where is EvidenceKind.FAILURE, s.weight), reverse=True)
    if deterministic:
        fitting = [s for s in ranked if s.category in (Category.RECIPE_DEFECT, Category.UPSTREAM_DEFECT)]
        if fitting:
            best = fitting[0]
            return Decision(
                best.category,
                min(det_confidence + 0.03, 0.95),
                f"{det_reason}; matches {best.signature}: {best.description}",
                [*rerun_items, best.evidence, *f.peers],
            )
        peer = f"; {f.peers[0].excerpt}" if f.peers else ""
        return Decision(Category.RECIPE_DEFECT, det_confidence, f"{det_reason}{peer}", rerun_items + f.peers)
    if ranked:
        best = ranked[0]
        agreeing = [s for s in ranked if s.category is best.category]
        return Decision(
            best.category,
            min(best.weight, PATTERN_CAP),
            f"matches {best.signature} ({best.where}): {best.description} Pattern only — {_rerun_hint(f.recipe)}",
            [s.evidence for s in agreeing[:3]] + (f.peers if best.category is Category.RECIPE_DEFECT else []),
        )
    flips = _flips(f.same_version_history)
    if flips >= 2:
        return Decision(
            Category.FLAKE,
            0.6,
            f"{version} flipped red/green {flips} times across its last {len(f.same_version_history)} runs; "
            f"{_rerun_hint(f.recipe)}",
            [],
        )
    return Decision(
        Category.UNKNOWN,
        UNKNOWN_CONFIDENCE,
        f"{tests} failed; no isolation rerun, no canonical newer than the red and no known signature — "
        f"{_rerun_hint(f.recipe)}",
        f.peers,
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
