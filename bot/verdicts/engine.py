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
from dataclasses import replace

from bot.model.records import (
    Category,
    NextStep,
    RunKind,
    RunStatus,
    Strength,
)
from bot.probes.records import Outcome, ProbeFact, ProbeName
from bot.verdicts import confidence as c
from bot.verdicts.cite import (
    disagreeing,
    flip_count,
    probe_item,
    run_place,
    shared_item,
    stale_item,
    structural_facts,
)
from bot.verdicts.records import (
    Decision,
    Facts,
)
from bot.verdicts.redrun import SETTLE_BY_A_LOOK, RedRun
from bot.verdicts.staletest import Presence

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


def untested_green_alone(r: RedRun) -> Decision | None:
    """The red run tested nothing about the recipe (its own record says so), and the version passed alone
    (or a canonical for it came after): the sweep's red was the CI's, not a flake of the recipe under load."""
    if not (r.greens or r.canon_after):
        return None
    found = structural_facts(r.f)
    if found is None:
        return None
    why, items = found
    return Decision(
        Category.INFRA,
        c.INFRA_GREEN_ALONE - c.INTERMITTENT_PER_RERUN * len(r.elsewhere),
        f"passed alone: {' and '.join(r.green_parts)}; the red {run_place(r.f.target)} tested nothing about "
        f"the recipe ({why}){r.also}",
        r.rerun_items + r.canon_items + items,
        strength=Strength.RERUNS if r.greens else Strength.GREEN_LATER,
    )


def green_alone(r: RedRun) -> Decision | None:
    """Green in an isolation rerun of the same version, or a canonical for it written after the red."""
    if not (r.greens or r.canon_after):
        return None
    f = r.f
    parts = r.green_parts
    confidence = (
        (c.FLAKE_GREEN_AND_CANONICAL if r.greens and r.canon_after else c.FLAKE_GREEN_ALONE)
        + c.FLAKE_PER_EXTRA_GREEN * max(0, len(r.greens) - 1)
        - (c.INTERMITTENT_PER_RERUN * len(r.elsewhere))
    )
    under = " under sweep load" if f.target.kind is RunKind.SWEEP else ""
    return Decision(
        Category.FLAKE,
        min(confidence, c.FLAKE_CAP),
        f"red{under} in {run_place(f.target)} ({r.tests}), but " + " and ".join(parts) + r.also,
        r.rerun_items + r.canon_items,
        strength=Strength.RERUNS if r.greens else Strength.GREEN_LATER,
    )


def failed_elsewhere_alone(r: RedRun) -> Decision | None:
    """Isolation reruns red on another tier or test than the sweep run, none on the run's own failure."""
    if not (r.elsewhere and not r.same):
        return None
    return disagreeing(r.f, r.elsewhere, r.tests)


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
        [*(probe_item(p) for p in absent), *(s.evidence for s in named[:1])],
        strength=Strength.PROBED,
    )


def structural(r: RedRun) -> Decision | None:
    """Unverified tiers, harness errors, a runner that died or was cut off: the CI machinery, not the recipe."""
    found = None if r.deterministic else structural_facts(r.f)
    if found is None:
        return None
    why, items = found
    infra_sigs = [s for s in r.f.signatures if s.category is Category.INFRA]
    sig_note = f"; matches {infra_sigs[0].signature}: {infra_sigs[0].description}" if infra_sigs else ""
    return Decision(
        Category.INFRA,
        c.INFRA_STRUCTURAL_WITH_SIGNATURE if infra_sigs else c.INFRA_STRUCTURAL,
        f"{why}{sig_note} — not evidence against the recipe",
        items + [s.evidence for s in infra_sigs[:2]] + [shared_item(x) for x in r.f.shared],
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
        [stale_item(s) for s in nowhere + main_only] + r.rerun_items,
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
        [shared_item(x) for x in r.f.shared] + [s.evidence for s in r.ranked[:2]],
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
    flips = flip_count(history)
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
    untested_green_alone,
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
    items = [i for i in (probe_item(p) for p in r.f.probes) if (i.path, i.excerpt) not in cited]
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
