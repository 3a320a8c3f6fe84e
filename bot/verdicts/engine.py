"""The verdict engine: pure, given a red run's facts it returns one verdict.

An ordered list of rules (:data:`RULES`), each a function of the red run that decides or passes;
the first that decides wins, and its name is recorded on the decision. The order is the taxonomy of
docs/knowledge-base.md ("How evidence decides"), which names each rule: rerun evidence first
(isolation runs of the same version, a canonical written after the red), then structural facts
(unverified tiers, harness errors, a runner that died), the stale-test search, a deterministic rerun
(a signature or a peer's compose difference naming its cause, or nothing: then the cause is left
undecided, never guessed), shared causes, a failure repeating the same way across sweeps (the same
three outcomes), and the knowledge base of signatures. Each decision says what it rests on in a fixed
vocabulary (:class:`bot.model.records.Strength`).
A new rule is a new function in that list (and a line in the docs). Confidence is honest: a pattern
alone stays below 0.7 and the reason says what would decide it — in neutral words: the command that
does it is the chat's or the CLI's business (``Decision.settle``). The numbers are in
:mod:`bot.verdicts.confidence`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
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
from bot.probes.records import Outcome, ProbeFact, ProbeName
from bot.verdicts import confidence as c
from bot.verdicts.records import (
    STRUCTURAL_PROBLEMS,
    Decision,
    Facts,
    RerunFact,
    SharedCause,
    SignatureHit,
    SweepRepeat,
)
from bot.verdicts.staletest import Presence, StaleFinding

SETTLE_BY_RERUN = "an isolation rerun would tell a flake from a deterministic failure"
SETTLE_BY_MORE_RERUNS = "more isolation reruns would tell a flake from a deterministic failure"
SETTLE_BY_A_LOOK = (
    "no signature, stale-test finding or peer difference names its cause: reading the failure against the test "
    "and the recipe's changes since it last passed would"
)


@dataclass(frozen=True)
class RedRun:
    """The red run being decided: its facts and what the rules read off them, worked out once."""

    f: Facts
    isolated: list[RerunFact]  # isolation reruns of the version that say something (verified, finished)
    greens: list[RerunFact]
    same: list[RerunFact]  # red with a failing test the run itself failed
    elsewhere: list[RerunFact]  # red, but only on other tests
    canon_after: bool  # a canonical of the same version written after the red

    @classmethod
    def of(cls, f: Facts) -> RedRun:
        iso = [r for r in f.reruns if r.isolated and not r.unverified and r.status is not RunStatus.UNKNOWN]
        canon_after = (
            f.canonical is not None
            and f.canonical.version == f.target.version
            and f.canonical.ts is not None
            and f.target.finished is not None
            and f.canonical.ts > f.target.finished
        )
        return cls(
            f,
            iso,
            greens=[r for r in iso if r.status is RunStatus.GREEN],
            same=[r for r in iso if r.status is RunStatus.RED and r.failing & f.failing],
            elsewhere=[r for r in iso if r.status is RunStatus.RED and r.failing and not r.failing & f.failing],
            canon_after=canon_after,
        )

    @property
    def tests(self) -> str:
        return _fmt_tests(self.f.failures)

    @property
    def version(self) -> str:
        return self.f.target.version or "?"

    @property
    def rerun_items(self) -> list[EvidenceItem]:
        return [_rerun_item(r, self.f.layout) for r in self.isolated]

    @property
    def canon_items(self) -> list[EvidenceItem]:
        return [_canonical_item(self.f)] if self.canon_after else []

    @property
    def unsettled(self) -> NextStep:
        """Advise a rerun only when none exists: with reruns, only more of them can help."""
        return NextStep.MORE_RERUNS if self.isolated else NextStep.ISOLATION_RERUN

    @property
    def settle_text(self) -> str:
        return SETTLE_BY_MORE_RERUNS if self.isolated else SETTLE_BY_RERUN

    @property
    def also(self) -> str:
        if not self.elsewhere:
            return ""
        seen = sorted({f"{t}/{n}" for r in self.elsewhere for t, n in r.failing})[:3]
        return f"; {len(self.elsewhere)} isolation rerun(s) failed elsewhere ({', '.join(seen)})"

    @property
    def deterministic(self) -> bool:
        return bool(self.same)

    @property
    def partly(self) -> bool:  # reproduced by some isolation reruns, while others failed elsewhere
        return bool(self.same) and bool(self.elsewhere)

    @property
    def det_confidence(self) -> float:
        if self.partly:
            return c.PARTLY_REPRODUCED
        return c.DETERMINISTIC_ONCE if len(self.same) == 1 else c.DETERMINISTIC_REPEATED

    @property
    def det_reason(self) -> str:
        return (
            f"red again with the same failing test ({self.tests}) in {len(self.same)} of {len(self.isolated)} "
            f"isolation rerun(s) of {self.version}{self.also}"
        )

    @property
    def contradicted(self) -> frozenset[str]:
        """Signatures a probe proved wrong: the registry has the image they say is gone."""
        return frozenset(s for p in self.f.probes if p.finding.outcome is Outcome.PRESENT for s in p.signatures)

    @property
    def ranked(self) -> list[SignatureHit]:
        """Signature hits, best first: failure-text hits outrank log hits, then by weight; none a probe contradicted."""
        return sorted(
            (s for s in self.f.signatures if s.signature not in self.contradicted),
            key=lambda s: (s.where is EvidenceKind.FAILURE, s.weight),
            reverse=True,
        )

    @property
    def labels(self) -> str:
        return f"; {self.f.peer_labels[0].excerpt}" if self.f.peer_labels else ""

    @property
    def label_bonus(self) -> float:
        return c.PEER_LABELS_BONUS if self.f.peer_labels else 0.0

    @property
    def fitting(self) -> list[SignatureHit]:
        """Signature hits that can name a deterministic failure's cause (recipe or upstream), best first."""
        return [s for s in self.ranked if s.category in (Category.RECIPE_DEFECT, Category.UPSTREAM_DEFECT)]

    @property
    def peer_hint(self) -> str:
        """A passing peer, quoted when no compose difference with it was found (that one is quoted instead)."""
        return f"; {self.f.peers[0].excerpt}" if self.f.peers and not self.f.peer_labels else ""

    @property
    def repeat(self) -> SweepRepeat | None:
        return self.f.repeated

    @property
    def repeat_reason(self) -> str:
        rep = self.f.repeated
        assert rep is not None
        versions = f"of {rep.versions[0]}" if len(rep.versions) == 1 else f"across {', '.join(rep.versions)}"
        return f"red the same way in the last {rep.sweeps} sweeps {versions} ({self.tests}: {rep.failure})"

    @property
    def repeat_confidence(self) -> float:
        rep = self.f.repeated
        assert rep is not None
        return c.REPEATED_MORE if rep.sweeps >= 3 else c.REPEATED_TWICE

    @property
    def repeat_items(self) -> list[EvidenceItem]:
        rep = self.f.repeated
        assert rep is not None
        return [
            EvidenceItem(
                EvidenceKind.REPEATED,
                run_id,
                self.f.layout.results,
                None,
                f"sweep run {run_id}: red the same way ({self.tests}: {rep.failure})",
            )
            for run_id in rep.run_ids[1:]
        ]


# --- the rules: each decides or returns None; RULES runs them in order and the first decision wins. ---
# docs/knowledge-base.md lists them by name in the same order (tests/test_engine.py holds the two
# together). A rule's function name is stored with the verdict (Decision.rule): renaming one is a change.

Rule = Callable[[RedRun], Decision | None]


def intermittent_alone(r: RedRun) -> Decision | None:
    """The failing test failed again in some isolation reruns and passed in others (or a canonical came after)."""
    if not ((r.greens or r.canon_after) and r.same):
        return None
    return Decision(
        Category.FLAKE,
        min(c.INTERMITTENT_BASE + c.INTERMITTENT_PER_RERUN * len(r.isolated), c.INTERMITTENT_CAP),
        f"intermittent even alone: {r.tests} failed in {len(r.same)} of {len(r.isolated)} isolation reruns of "
        f"{r.version} and passed in {len(r.greens)}{r.also}",
        r.rerun_items + r.canon_items,
        strength=Strength.RERUNS,
    )


def green_alone(r: RedRun) -> Decision | None:
    """Green in an isolation rerun of the same version, or a canonical for it written after the red."""
    if not (r.greens or r.canon_after):
        return None
    f = r.f
    parts = []
    if r.greens:
        parts.append(f"green in {len(r.greens)} of {len(r.isolated)} isolation rerun(s) of {r.version}")
    if r.canon_after and f.canonical is not None:
        parts.append(f"a canonical for {r.version} was written after it ({short(f.canonical.ts)})")
    confidence = (
        (c.FLAKE_GREEN_AND_CANONICAL if r.greens and r.canon_after else c.FLAKE_GREEN_ALONE)
        + c.FLAKE_PER_EXTRA_GREEN * max(0, len(r.greens) - 1)
        - (c.INTERMITTENT_PER_RERUN * len(r.elsewhere))
    )
    under = " under sweep load" if f.target.kind is RunKind.SWEEP else ""
    return Decision(
        Category.FLAKE,
        min(confidence, c.FLAKE_CAP),
        f"red{under} in {_where(f.target)} ({r.tests}), but " + " and ".join(parts) + r.also,
        r.rerun_items + r.canon_items,
        strength=Strength.RERUNS if r.greens else Strength.GREEN_LATER,
    )


def failed_elsewhere_alone(r: RedRun) -> Decision | None:
    """Isolation reruns red on another tier or test than the sweep run, none on the run's own failure."""
    if not (r.elsewhere and not r.same):
        return None
    return _disagreeing(r.f, r.elsewhere, r.tests)


def registry_probe(r: RedRun) -> Decision | None:
    """The image tag the failure says is gone is not in its registry: checked now, no rerun needed."""
    absent = [
        p for p in r.f.probes if p.finding.subject.probe is ProbeName.REGISTRY and p.finding.outcome is Outcome.ABSENT
    ]
    if not absent:
        return None
    named = [s for s in r.ranked if s.signature in absent[0].signatures]
    matches = f"; matches {named[0].signature}: {named[0].description}" if named else ""
    return Decision(
        Category.UPSTREAM_DEFECT,
        c.PROBE_ABSENT,
        f"{absent[0].finding.said} — checked in the registry, no rerun needed{matches}",
        [*(_probe_item(p) for p in absent), *(s.evidence for s in named[:1])],
        strength=Strength.PROBED,
    )


def structural(r: RedRun) -> Decision | None:
    """Unverified tiers, harness errors, a runner that died or was cut off: the CI machinery, not the recipe."""
    found = None if r.deterministic else _structural(r.f)
    if found is None:
        return None
    why, items = found
    infra_sigs = [s for s in r.f.signatures if s.category is Category.INFRA]
    sig_note = f"; matches {infra_sigs[0].signature}: {infra_sigs[0].description}" if infra_sigs else ""
    return Decision(
        Category.INFRA,
        c.INFRA_STRUCTURAL_WITH_SIGNATURE if infra_sigs else c.INFRA_STRUCTURAL,
        f"{why}{sig_note} — not evidence against the recipe",
        items + [s.evidence for s in infra_sigs[:2]] + [_shared_item(x) for x in r.f.shared],
        strength=Strength.RUN_RECORD,
    )


def stale_test(r: RedRun) -> Decision | None:
    """A verified fact about the recipe: the test expects a state no release has."""
    nowhere = [s for s in r.f.stale if s.where is Presence.NOWHERE]
    main_only = [s for s in r.f.stale if s.where is Presence.MAIN_ONLY]
    if not (nowhere or main_only):
        return None
    finding = (nowhere or main_only)[0]
    place = (
        f"in no release tag ({finding.tags_checked} checked) and not in {finding.main_ref or 'main'}"
        if finding.where is Presence.NOWHERE
        else f"only in {finding.main_ref} (unreleased): the test is ahead of the release"
    )
    confirmed = f"; {r.det_reason}" if r.deterministic else ""
    return Decision(
        Category.STALE_TEST,
        (c.STALE_CONFIRMED if r.deterministic else c.STALE_FACT)
        - (c.STALE_MAIN_ONLY_PENALTY if finding.where is Presence.MAIN_ONLY else 0.0),
        f"overlay test {finding.test} expects {finding.expected}, which exists {place}{confirmed}",
        [_stale_item(s) for s in nowhere + main_only] + r.rerun_items,
        strength=Strength.CHECKED,
    )


def deterministic_signature(r: RedRun) -> Decision | None:
    """Red again alone, and a recipe-defect or upstream-defect signature says which."""
    if not (r.deterministic and r.fitting):
        return None
    best = r.fitting[0]
    return Decision(
        best.category,
        min(r.det_confidence + c.DETERMINISTIC_SIGNATURE_BONUS + r.label_bonus, c.FLAKE_CAP),
        f"{r.det_reason}; matches {best.signature}: {best.description}{r.labels}",
        [*r.rerun_items, best.evidence, *r.f.peer_labels, *r.f.peers],
        strength=Strength.REPRODUCED,
    )


def deterministic_peer_labels(r: RedRun) -> Decision | None:
    """Red again alone, and a passing peer's compose differs where the failing test looks: the recipe."""
    if not (r.deterministic and r.f.peer_labels):
        return None
    return Decision(
        Category.RECIPE_DEFECT,
        min(r.det_confidence + r.label_bonus, c.FLAKE_CAP),
        f"{r.det_reason}{r.labels}",
        r.rerun_items + r.f.peer_labels + r.f.peers,
        NextStep.MORE_RERUNS if r.partly else None,
        strength=Strength.REPRODUCED,
    )


def deterministic_undecided(r: RedRun) -> Decision | None:
    """Red again alone, and nothing names the cause: it fails every time, which says nothing about why."""
    if not r.deterministic:
        return None
    return Decision(
        Category.UNKNOWN,
        c.UNKNOWN,
        f"fails every time alone; cause not decided — {r.det_reason}; {SETTLE_BY_A_LOOK}{r.peer_hint}",
        r.rerun_items + r.f.peers + [s.evidence for s in r.ranked[:2]],
        NextStep.MORE_RERUNS if r.partly else NextStep.FIND_CAUSE,
        strength=Strength.REPRODUCED,
    )


def shared_cause(r: RedRun) -> Decision | None:
    """Three or more recipes of the sweep fail the same way in machinery they share."""
    if not r.f.shared:
        return None
    shared = r.f.shared[0]
    return Decision(
        Category.INFRA,
        c.SHARED_CAUSE,
        f"{len(shared.recipes)} recipes of this sweep fail in {shared.tier} the same way, in {shared.machinery} "
        f"they share ({', '.join(shared.recipes)}): a shared cause, not this recipe; {r.settle_text}",
        [_shared_item(x) for x in r.f.shared] + [s.evidence for s in r.ranked[:2]],
        r.unsettled,
        strength=Strength.SHARED,
    )


def repeated_signature(r: RedRun) -> Decision | None:
    """Red the same way in consecutive sweeps, and a recipe-defect or upstream-defect signature says which."""
    if r.repeat is None or not r.fitting:
        return None
    best = r.fitting[0]
    return Decision(
        best.category,
        r.repeat_confidence,
        f"{r.repeat_reason}; matches {best.signature}: {best.description}{r.labels}",
        [*r.repeat_items, best.evidence, *r.f.peer_labels, *r.f.peers],
        strength=Strength.REPEATED,
    )


def repeated_peer_labels(r: RedRun) -> Decision | None:
    """Red the same way in consecutive sweeps, and a passing peer's compose differs where the test looks."""
    if r.repeat is None or not r.f.peer_labels:
        return None
    return Decision(
        Category.RECIPE_DEFECT,
        r.repeat_confidence,
        f"{r.repeat_reason}{r.labels}",
        r.repeat_items + r.f.peer_labels + r.f.peers,
        strength=Strength.REPEATED,
    )


def repeated_undecided(r: RedRun) -> Decision | None:
    """Red the same way in consecutive sweeps, no signature at all: deterministic under the sweep, cause open.

    A flake or infra signature is left to :func:`pattern_only`: a failure repeating says nothing against a
    lasting problem of the node, and an isolation rerun tells the two apart."""
    if r.repeat is None or r.f.signatures:
        return None
    return Decision(
        Category.UNKNOWN,
        c.UNKNOWN,
        f"fails the same way every sweep; cause not decided — {r.repeat_reason}; {SETTLE_BY_A_LOOK}{r.peer_hint}",
        r.repeat_items + r.f.peers,
        NextStep.FIND_CAUSE,
        strength=Strength.REPEATED,
    )


def pattern_only(r: RedRun) -> Decision | None:
    """A knowledge-base signature alone: a suspicion, capped, saying what would decide it."""
    ranked = r.ranked
    if not ranked:
        return None
    best = ranked[0]
    agreeing = [s for s in ranked if s.category is best.category]
    return Decision(
        best.category,
        min(best.weight, c.PATTERN_CAP),
        f"matches {best.signature} ({best.where}): {best.description} Pattern only — {r.settle_text}",
        [s.evidence for s in agreeing[:3]]
        + (r.f.peer_labels + r.f.peers if best.category is Category.RECIPE_DEFECT else []),
        r.unsettled,
        strength=Strength.PATTERN,
    )


def flipping(r: RedRun) -> Decision | None:
    """The same version flipped red/green two or more times across its recent runs."""
    history = r.f.same_version_history
    flips = _flips(history)
    if flips < 2:
        return None
    return Decision(
        Category.FLAKE,
        c.FLIPPING,
        f"{r.version} flipped red/green {flips} times across its last {len(history)} runs; {r.settle_text}",
        [],
        r.unsettled,
        strength=Strength.PATTERN,
    )


def unknown(r: RedRun) -> Decision | None:
    """Nothing decides: say what would."""
    return Decision(
        Category.UNKNOWN,
        c.UNKNOWN,
        f"{r.tests} failed; no {'deciding ' if r.isolated else ''}isolation rerun, no canonical newer than the red "
        f"and no known signature — {r.settle_text}",
        r.f.peer_labels + r.f.peers,
        r.unsettled,
        strength=Strength.NOTHING,
    )


RULES: tuple[Rule, ...] = (
    intermittent_alone,
    green_alone,
    failed_elsewhere_alone,
    registry_probe,
    structural,
    stale_test,
    deterministic_signature,
    deterministic_peer_labels,
    deterministic_undecided,
    shared_cause,
    repeated_signature,
    repeated_peer_labels,
    repeated_undecided,
    pattern_only,
    flipping,
    unknown,
)


def decide(f: Facts) -> Decision | None:
    """The verdict for a red run (the first rule of :data:`RULES` that decides), or None for a run that is not red."""
    if f.target.status is not RunStatus.RED:
        return None
    run = RedRun.of(f)
    for rule in RULES:
        decision = rule(run)
        if decision is not None:
            return replace(_with_probes(decision, run), rule=rule.__name__)
    raise LookupError("no rule decided; the last one, unknown, always does")


def _with_probes(d: Decision, r: RedRun) -> Decision:
    """Every probe's finding is evidence, once, whatever decided: one that contradicted a signature is
    said in the reason too (the verdict no longer rests on it); one without an answer changes nothing."""
    cited = {(e.path, e.excerpt) for e in d.evidence}
    items = [i for i in (_probe_item(p) for p in r.f.probes) if (i.path, i.excerpt) not in cited]
    present = [
        p
        for p in r.f.probes
        if p.finding.subject.probe is ProbeName.REGISTRY and p.finding.outcome is Outcome.PRESENT and p.signatures
    ]
    said = "".join(_contradiction(p) for p in present[:1])
    return replace(d, reason=d.reason + said, evidence=d.evidence + items) if items or said else d


def _contradiction(p: ProbeFact) -> str:
    names = sorted(p.signatures)
    listed, verb = (names[0], "does") if len(names) == 1 else (f"{', '.join(names[:-1])} and {names[-1]}", "do")
    return f"; the registry has {p.finding.subject.name} (checked), so {listed} {verb} not hold"


# --- what the rules cite and say ----------------------------------------------------------------


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
            f"no {f.layout.results}, and the log ends inside that tier",
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
    items = [_rerun_item(r, f.layout) for r in others]
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


def _rerun_item(r: RerunFact, layout: Layout) -> EvidenceItem:
    failing = ", ".join(sorted(f"{t}/{n}" for t, n in r.failing)) or "nothing failed"
    return EvidenceItem(
        kind=EvidenceKind.RERUN,
        run_id=r.run_id,
        path=layout.results,
        line=None,
        excerpt=f"isolation run {r.run_id}: {r.status.value} ({failing})",
    )


def _canonical_item(f: Facts) -> EvidenceItem:
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


def _probe_item(p: ProbeFact) -> EvidenceItem:
    found = p.finding
    return EvidenceItem(
        kind=EvidenceKind.PROBE,
        run_id=None,
        path=found.subject.url,
        line=None,
        excerpt=f"{found.subject.probe} probe, {short(found.checked)}: {found.said}",
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
