"""What the verdict engine's rules cite and say: evidence items, reason fragments and the structural
facts (unverified tiers, harness errors, a runner cut off) — shared by the rules (:mod:`bot.verdicts.engine`)
and the red run they read (:mod:`bot.verdicts.redrun`), kept apart so the rules read as a list."""

from __future__ import annotations

from itertools import pairwise

from bot.artifacts.layout import Layout
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
    Strength,
    TestStatus,
)
from bot.probes.records import ProbeFact
from bot.verdicts import confidence as c
from bot.verdicts.records import (
    STRUCTURAL_PROBLEMS,
    Decision,
    Facts,
    RerunFact,
    SharedCause,
)
from bot.verdicts.staletest import Presence, StaleFinding


def fmt_tests(failures: list[Failure], limit: int = 2) -> str:
    names = list(dict.fromkeys(f"{f.tier}/{f.test}" for f in failures))
    more = f" (+{len(names) - limit})" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more if names else "no failing test"


def run_place(target: RunRow) -> str:
    return (
        f"{target.kind.value} run {target.run_id}" if target.kind is not RunKind.ISOLATION else f"run {target.run_id}"
    )


def flip_count(history: list[RunRow]) -> int:
    statuses = [r.status for r in history if r.status is not RunStatus.UNKNOWN and not r.unverified]
    return sum(1 for a, b in pairwise(statuses) if a is not b)


def structural_facts(f: Facts) -> tuple[str, list[EvidenceItem]] | None:
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
            f"no {f.layout.results}, and the log ends inside that tier",
            [cutoff_item(f), *problems],
        )
    if f.target.unverified:
        return f"tiers {', '.join(unver) or '?'} are unverified (should have run and did not)", problems
    if unver and (errors_only or problems):
        why = "harness errors in " + fmt_tests(f.failures) if errors_only else problems[0].excerpt
        return f"{why}; then tiers {', '.join(unver)} unverified", problems
    if problems and not f.failures:
        return problems[0].excerpt, problems
    return None


def shared_item(s: SharedCause) -> EvidenceItem:
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


def cutoff_item(f: Facts) -> EvidenceItem:
    assert f.cutoff is not None
    return EvidenceItem(EvidenceKind.CUT_OFF, f.target.run_id, f.cutoff.log, f.cutoff.last_line, f.cutoff.excerpt)


def disagreeing(f: Facts, others: list[RerunFact], tests: str) -> Decision:
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
    items = [rerun_item(r, f.layout) for r in others]
    if hits:
        best = hits[0]
        return Decision(
            best.category,
            min(best.weight, c.DISAGREEING_RERUN_CAP),
            f"{original}, but {there}: the rerun matches {best.signature}: {best.description}",
            [*items, best.evidence],
            NextStep.MORE_RERUNS,
            strength=Strength.RERUNS_DISAGREE,
        )
    if errors_only:
        return Decision(
            Category.INFRA,
            c.DISAGREEING_RERUN_CAP,
            f"{original}, but {there}, with harness errors — the CI, not evidence against the recipe",
            items,
            NextStep.MORE_RERUNS,
            strength=Strength.RERUNS_DISAGREE,
        )
    return Decision(
        Category.RECIPE_DEFECT,
        c.DISAGREEING_RERUN_UNEXPLAINED,
        f"{original}, but {there}: red alone too, on another test; more reruns would show which failure repeats",
        items + f.peer_labels + f.peers,
        NextStep.MORE_RERUNS,
        strength=Strength.RERUNS_DISAGREE,
    )


def rerun_item(r: RerunFact, layout: Layout) -> EvidenceItem:
    failing = ", ".join(sorted(f"{t}/{n}" for t, n in r.failing)) or "nothing failed"
    return EvidenceItem(
        kind=EvidenceKind.RERUN,
        run_id=r.run_id,
        path=layout.results,
        line=None,
        excerpt=f"isolation run {r.run_id}: {r.status.value} ({failing})",
    )


def canonical_item(f: Facts) -> EvidenceItem:
    c = f.canonical
    assert c is not None
    return EvidenceItem(
        kind=EvidenceKind.CANONICAL,
        run_id=None,
        path=f.layout.canonical,
        line=None,
        excerpt=(
            f"canonical {c.version} written {short(c.ts)}, after red run {f.target.run_id} ({short(f.target.finished)})"
        ),
    )


def probe_item(p: ProbeFact) -> EvidenceItem:
    found = p.finding
    return EvidenceItem(
        kind=EvidenceKind.PROBE,
        run_id=None,
        path=found.subject.url,
        line=None,
        excerpt=f"{found.subject.probe} probe, {short(found.checked)}: {found.said}",
    )


def stale_item(s: StaleFinding) -> EvidenceItem:
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
