"""The pure engine on hand-made facts: each rule of the verdict order, and what beats what."""

import re
from dataclasses import replace
from pathlib import Path

from bot.artifacts.layout import Layout
from bot.config import CcciConfig
from bot.model.records import (
    Canonical,
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
    TierResult,
)
from bot.probes.records import Finding, Outcome, ProbeFact, ProbeName, Subject
from bot.verdicts import confidence
from bot.verdicts.engine import RULES, decide
from bot.verdicts.records import CutOff, Facts, RerunFact, SharedCause, SignatureHit, SweepRepeat
from bot.verdicts.staletest import Presence, StaleFinding

T0 = 1_750_000_000.0
LAYOUT = Layout.of(CcciConfig())  # cc-ci's default file names
FAILURE = Failure("restore", "cc-ci", "test_restore_returns_state", "relation does not exist", "tb", "junit/x.xml")
TIERS = [TierResult(t, TestStatus.PASS) for t in ("install", "upgrade", "backup")] + [
    TierResult("restore", TestStatus.FAIL)
]


def run(run_id: str, status: RunStatus = RunStatus.RED, kind: RunKind = RunKind.SWEEP, at: float = T0) -> RunRow:
    return RunRow(run_id, "r", "1.0.0+1", None, at - 600, at, status, False, kind, None, False)


def facts(**changes: object) -> Facts:
    base = Facts(
        recipe="r",
        target=run("753"),
        tiers=TIERS,
        failures=[FAILURE],
        problems=[],
        reruns=[],
        canonical=None,
        signatures=[],
        stale=[],
        peers=[],
        layout=LAYOUT,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def rerun(run_id: str, status: RunStatus, failing: bool = True) -> RerunFact:
    tests = frozenset({("restore", "test_restore_returns_state")}) if failing else frozenset()
    return RerunFact(run_id, status, True, False, tests, T0 + 3600)


def signature(category: str, where: str = "failure", weight: float = 0.6) -> SignatureHit:
    item = EvidenceItem(EvidenceKind.SIGNATURE, "753", "junit/x.xml", None, "sig")
    return SignatureHit(f"sig-{category}", Category(category), "a description.", weight, EvidenceKind(where), item)


IMAGE = "ghcr.io/bluesky-social/pds:0.4.182"
MANIFEST_URL = "https://ghcr.io/v2/bluesky-social/pds/manifests/0.4.182"


def probed(outcome: Outcome, signatures: frozenset[str] = frozenset({"sig-upstream-defect"})) -> ProbeFact:
    """A registry probe's finding about IMAGE, as the runner hands it to the engine."""
    said = {
        Outcome.ABSENT: "is not in its registry: HEAD answered 404 (with an anonymous token)",
        Outcome.PRESENT: "is in its registry: HEAD answered 200 (with an anonymous token)",
        Outcome.UNREACHABLE: "could not be checked: ghcr.io did not answer (timed out)",
        Outcome.REFUSED: "could not be checked: access refused (401, with an anonymous token)",
    }[outcome]
    subject = Subject(ProbeName.REGISTRY, IMAGE, "ghcr.io", MANIFEST_URL)
    return ProbeFact(Finding(subject, outcome, f"{IMAGE} {said}", T0 + 60), signatures)


def test_green_runs_get_no_verdict() -> None:
    assert decide(facts(target=run("753", RunStatus.GREEN))) is None


def test_green_isolation_rerun_is_a_flake_whatever_the_pattern_says() -> None:
    d = decide(
        facts(reruns=[rerun("manual-1", RunStatus.GREEN, failing=False)], signatures=[signature("recipe-defect")])
    )
    assert d is not None and d.category == "flake" and d.confidence >= 0.8
    assert "green in 1 of 1 isolation rerun" in d.reason


def test_a_canonical_written_after_the_red_is_flake_evidence_on_its_own() -> None:
    canon = Canonical("r", "1.0.0+1", "abc", "idle", T0 + 100)
    d = decide(facts(canonical=canon))
    assert d is not None and d.category == "flake"
    older = decide(facts(canonical=replace(canon, ts=T0 - 100)))
    other_version = decide(facts(canonical=replace(canon, version="0.9.0+1")))
    assert older is not None and older.category != "flake"
    assert other_version is not None and other_version.category != "flake"


def test_k_of_n_when_isolation_reruns_disagree() -> None:
    reruns = [rerun("m1", RunStatus.RED), rerun("m2", RunStatus.GREEN, failing=False), rerun("m3", RunStatus.RED)]
    d = decide(facts(reruns=reruns))
    assert d is not None and d.category == "flake"
    assert "2 of 3" in d.reason


PEER = EvidenceItem(
    EvidenceKind.PEER, "761", "results.json", None, "immich passes test_restore_returns_state (restore)"
)
LABELS = EvidenceItem(
    EvidenceKind.PEER_LABELS,
    "761",
    "compose.yml",
    None,
    "immich's database service (compose.yml) has backupbot.restore.post-hook: /pg_backup.sh restore; r's db has none",
)


def test_failing_every_time_alone_is_not_a_cause_a_peer_is_a_hint() -> None:
    """Reproduced alone with nothing naming why: `unknown`, resting on the reproduction, never "recipe-defect 85%"."""
    d = decide(facts(reruns=[rerun("manual-1", RunStatus.RED)], peers=[PEER]))
    assert d is not None and d.category is Category.UNKNOWN and d.rule == "deterministic_undecided"
    assert d.reason.startswith("fails every time alone; cause not decided — red again with the same failing test")
    assert "immich passes" in d.reason  # where to look, not a finding
    assert d.strength is Strength.REPRODUCED and d.settle is NextStep.FIND_CAUSE
    assert d.confidence == confidence.UNKNOWN  # no cause is claimed, however often it fails
    partly = decide(facts(reruns=[rerun("m1", RunStatus.RED), failing_rerun("m2", "install", "test_x", "boom")]))
    assert partly is not None and partly.category is Category.UNKNOWN and partly.settle is NextStep.MORE_RERUNS


def test_reproduced_alone_with_a_peers_compose_difference_is_the_recipe() -> None:
    d = decide(facts(reruns=[rerun("manual-1", RunStatus.RED)], peers=[PEER], peer_labels=[LABELS]))
    assert d is not None and d.category is Category.RECIPE_DEFECT and d.rule == "deterministic_peer_labels"
    assert d.confidence >= 0.85 and "backupbot.restore.post-hook" in d.reason
    assert d.strength is Strength.REPRODUCED and d.settle is None
    two = decide(facts(reruns=[rerun("m1", RunStatus.RED), rerun("m2", RunStatus.RED)], peer_labels=[LABELS]))
    assert two is not None and two.confidence > d.confidence


def test_deterministic_plus_upstream_signature_is_upstream() -> None:
    d = decide(facts(reruns=[rerun("manual-1", RunStatus.RED)], signatures=[signature("upstream-defect")]))
    assert d is not None and d.category == "upstream-defect" and d.confidence >= 0.85


def test_a_flake_pattern_does_not_overrule_a_deterministic_rerun() -> None:
    d = decide(facts(reruns=[rerun("manual-1", RunStatus.RED)], signatures=[signature("flake")]))
    assert d is not None and d.category is Category.UNKNOWN and d.strength is Strength.REPRODUCED
    assert any(e.kind is EvidenceKind.SIGNATURE for e in d.evidence)  # shown, not believed


def test_unverified_run_is_infra() -> None:
    target = replace(run("753"), unverified=True)
    tiers = [*TIERS[:3], TierResult("restore", TestStatus.UNVER)]
    d = decide(facts(target=target, tiers=tiers, failures=[]))
    assert d is not None and d.category == "infra" and d.confidence >= 0.85
    assert "not evidence against the recipe" in d.reason


def test_a_red_that_tested_nothing_then_green_alone_is_infra_settled_not_a_flake_under_load() -> None:
    """Nothing about the recipe was tested in the sweep, so passing alone clears the recipe: the sweep's
    red was the CI's (infra), settled by the rerun — never "red under sweep load ... flake"."""
    green = [rerun("manual-1", RunStatus.GREEN, failing=False)]
    unverified = replace(run("753"), unverified=True)
    unver_tiers = [*TIERS[:3], TierResult("restore", TestStatus.UNVER)]
    d = decide(facts(target=unverified, tiers=unver_tiers, failures=[], reruns=green))
    assert d is not None and d.rule == "untested_green_alone" and d.category is Category.INFRA
    assert d.strength is Strength.RERUNS and d.settle is None and d.confidence == confidence.INFRA_GREEN_ALONE
    assert d.reason.startswith("passed alone: green in 1 of 1 isolation rerun(s) of 1.0.0+1; the red sweep run 753")
    assert "tested nothing about the recipe (tiers restore are unverified" in d.reason and "load" not in d.reason
    assert [e.run_id for e in d.evidence if e.kind is EvidenceKind.RERUN] == ["manual-1"]
    # harness errors then unverified tiers, and a runner cut off at its deadline: the same
    error = replace(FAILURE, status=TestStatus.ERROR, message="failed on setup with DockerException")
    harness = [*TIERS[:3], TierResult("restore", TestStatus.ERROR), TierResult("custom", TestStatus.UNVER)]
    errors = decide(facts(failures=[error], tiers=harness, reruns=green))
    assert errors is not None and errors.rule == "untested_green_alone" and "harness errors in" in errors.reason
    cut = CutOff("backup", "cc-ci", 143, 40, "line 40", "run.log")
    cut_off = decide(facts(failures=[], tiers=TIERS[:2], cutoff=cut, reruns=green))
    assert cut_off is not None and cut_off.rule == "untested_green_alone" and "cut off" in cut_off.reason
    assert any(e.kind is EvidenceKind.CUT_OFF for e in cut_off.evidence)
    # a canonical written after it, with no rerun: the same, resting on the later green
    canon = Canonical("r", "1.0.0+1", "abc", "idle", T0 + 100)
    later = decide(facts(target=unverified, tiers=unver_tiers, failures=[], canonical=canon))
    assert later is not None and later.rule == "untested_green_alone" and later.strength is Strength.GREEN_LATER
    # a red that tested the recipe and failed an assertion stays a flake under load when it passes alone
    tested = decide(facts(reruns=green))
    assert tested is not None and tested.rule == "green_alone" and tested.category is Category.FLAKE
    assert "red under sweep load" in tested.reason
    # an isolation rerun reproducing the harness error and another green: intermittent, as before
    mixed = decide(facts(failures=[error], tiers=harness, reruns=[rerun("m1", RunStatus.RED), *green]))
    assert mixed is not None and mixed.rule == "intermittent_alone"


def test_harness_errors_before_unverified_tiers_are_infra_but_assertions_are_not() -> None:
    error = replace(FAILURE, status=TestStatus.ERROR, message="failed on setup with DockerException")
    tiers = [*TIERS[:3], TierResult("restore", TestStatus.ERROR), TierResult("custom", TestStatus.UNVER)]
    d = decide(facts(failures=[error], tiers=tiers))
    assert d is not None and d.category == "infra"
    assertion = decide(facts(failures=[FAILURE], tiers=tiers))
    assert assertion is not None and assertion.category != "infra"


def test_stale_test_facts_and_the_release_they_are_ahead_of() -> None:
    nowhere = StaleFinding("test_x", "img:3", Presence.NOWHERE, 5, "main", (), "/clone")
    d = decide(facts(stale=[nowhere]))
    assert d is not None and d.category == "stale-test" and 0.7 <= d.confidence < 0.9
    confirmed = decide(facts(stale=[nowhere], reruns=[rerun("manual-1", RunStatus.RED)]))
    assert confirmed is not None and confirmed.confidence > d.confidence
    ahead = decide(facts(stale=[replace(nowhere, where=Presence.MAIN_ONLY)]))
    assert ahead is not None and "ahead of the release" in ahead.reason
    released = decide(facts(stale=[replace(nowhere, where=Presence.RELEASED)]))
    assert released is not None and released.category != "stale-test"


def test_a_pattern_alone_is_a_suspicion() -> None:
    d = decide(facts(signatures=[signature("upstream-defect", weight=0.95)]))
    assert d is not None and d.category == "upstream-defect" and d.confidence < 0.7
    assert "an isolation rerun would tell" in d.reason and "!ccci" not in d.reason


def test_failure_text_outranks_a_log_line() -> None:
    d = decide(facts(signatures=[signature("infra", where="log", weight=0.65), signature("recipe-defect", weight=0.5)]))
    assert d is not None and d.category == "recipe-defect"


TWICE = SweepRepeat(2, ("753", "740"), ("1.0.0+1",), "relation does not exist")
THRICE = SweepRepeat(3, ("753", "740", "731"), ("1.0.0+1", "0.9.0+1"), "relation does not exist")


def test_red_the_same_way_across_sweeps_lets_a_signature_name_the_cause() -> None:
    """No isolation rerun, but the failure repeats sweep after sweep: more than a pattern alone."""
    alone = decide(facts(signatures=[signature("upstream-defect", weight=0.65)]))
    d = decide(facts(signatures=[signature("upstream-defect", weight=0.65)], repeated=TWICE))
    assert alone is not None and alone.rule == "pattern_only" and alone.settle is NextStep.ISOLATION_RERUN
    assert d is not None and d.rule == "repeated_signature" and d.category is Category.UPSTREAM_DEFECT
    assert d.strength is Strength.REPEATED and d.settle is None
    assert alone.confidence < d.confidence == confidence.REPEATED_TWICE < confidence.DETERMINISTIC_ONCE
    assert "red the same way in the last 2 sweeps of 1.0.0+1" in d.reason and "relation does not exist" in d.reason
    assert [(e.kind, e.run_id) for e in d.evidence][:1] == [(EvidenceKind.REPEATED, "740")]
    longer = decide(facts(signatures=[signature("recipe-defect")], repeated=THRICE))
    assert longer is not None and longer.confidence == confidence.REPEATED_MORE
    assert "across 1.0.0+1, 0.9.0+1" in longer.reason


def test_red_the_same_way_across_sweeps_with_a_peers_compose_difference_is_the_recipe() -> None:
    d = decide(facts(repeated=TWICE, peer_labels=[LABELS]))
    assert d is not None and d.rule == "repeated_peer_labels" and d.category is Category.RECIPE_DEFECT
    assert d.strength is Strength.REPEATED and "backupbot.restore.post-hook" in d.reason


def test_red_the_same_way_across_sweeps_with_nothing_naming_why_is_unknown_and_not_rerun() -> None:
    d = decide(facts(repeated=TWICE, peers=[PEER]))
    assert d is not None and d.rule == "repeated_undecided" and d.category is Category.UNKNOWN
    assert d.reason.startswith("fails the same way every sweep; cause not decided")
    assert d.strength is Strength.REPEATED and d.settle is NextStep.FIND_CAUSE  # a rerun would add nothing
    # a flake or infra signature is weighed as a pattern: a lasting node problem repeats too
    infra = decide(facts(repeated=TWICE, signatures=[signature("infra")]))
    assert infra is not None and infra.rule == "pattern_only" and infra.settle is NextStep.ISOLATION_RERUN


def test_what_beats_a_failure_repeating_across_sweeps() -> None:
    """Isolation reruns, the run's own record and a shared cause of the sweep decide before repetition."""
    green = decide(facts(repeated=TWICE, reruns=[rerun("m1", RunStatus.GREEN, failing=False)]))
    assert green is not None and green.category is Category.FLAKE and green.strength is Strength.RERUNS
    shared = SharedCause("s1", "restore", "backups", "relation does not exist", ("a", "b", "r"))
    infra = decide(facts(repeated=TWICE, signatures=[signature("recipe-defect")], shared=[shared]))
    assert infra is not None and infra.rule == "shared_cause"
    error = replace(FAILURE, status=TestStatus.ERROR)
    harness = [*TIERS[:3], TierResult("restore", TestStatus.ERROR), TierResult("custom", TestStatus.UNVER)]
    structural = decide(facts(repeated=TWICE, failures=[error], tiers=harness))
    assert structural is not None and structural.rule == "structural" and structural.strength is Strength.RUN_RECORD
    reproduced = decide(
        facts(repeated=TWICE, reruns=[rerun("m1", RunStatus.RED)], signatures=[signature("recipe-defect")])
    )
    assert reproduced is not None and reproduced.rule == "deterministic_signature"


def test_flipping_between_red_and_green_on_one_version_is_a_flake_suspicion() -> None:
    history = [run(str(i), RunStatus.RED if i % 2 else RunStatus.GREEN, at=T0 - 1000 * (5 - i)) for i in range(5)]
    d = decide(facts(same_version_history=history))
    assert d is not None and d.category == "flake" and d.confidence < 0.7


def test_nothing_to_go_on_is_unknown() -> None:
    d = decide(facts())
    assert d is not None and d.category == "unknown" and d.confidence < 0.5
    assert "an isolation rerun would tell" in d.reason and "!ccci" not in d.reason


def failing_rerun(run_id: str, tier: str, test: str, message: str, status: TestStatus = TestStatus.FAIL) -> RerunFact:
    failure = Failure(tier, "cc-ci", test, message, "tb", f"junit/{tier}__cc-ci__t.xml", status)
    return RerunFact(
        run_id,
        RunStatus.RED,
        True,
        False,
        frozenset({(tier, test)}),
        T0 + 3600,
        passed=frozenset({("restore", "test_restore_returns_state")}),
        failures=(failure,),
    )


def test_a_rerun_red_elsewhere_says_both_and_shows_the_disagreement() -> None:
    other = failing_rerun("manual-7", "custom", "test_export_completes", "assert 'failed' == 'complete'")
    d = decide(facts(reruns=[other]))
    assert d is not None
    assert "the sweep's failure (restore/test_restore_returns_state) passed alone" in d.reason
    assert "failed elsewhere (custom/test_export_completes)" in d.reason
    assert d.confidence <= confidence.DISAGREEING_RERUN_CAP
    assert d.settle is NextStep.MORE_RERUNS  # a rerun exists: never advise that one again
    assert any(e.kind == "rerun" and e.run_id == "manual-7" for e in d.evidence)


def test_the_category_comes_from_what_the_disagreeing_rerun_shows() -> None:
    rerun_failure = failing_rerun("manual-8", "install", "test_deploy", "manifest unknown")
    hit = SignatureHit(
        "image-manifest-unknown",
        Category.UPSTREAM_DEFECT,
        "The image tag is gone.",
        0.65,
        EvidenceKind.FAILURE,
        EvidenceItem(EvidenceKind.SIGNATURE, "manual-8", "junit/x.xml", None, "sig"),
    )
    d = decide(facts(reruns=[replace(rerun_failure, signatures=(hit,))]))
    assert d is not None and d.category == "upstream-defect"
    assert d.confidence <= confidence.DISAGREEING_RERUN_CAP < confidence.PATTERN_CAP
    errors = failing_rerun("manual-9", "install", "test_deploy", "DockerException", status=TestStatus.ERROR)
    infra = decide(facts(reruns=[errors]))
    assert infra is not None and infra.category == "infra"


def test_k_of_n_counts_stay_when_one_rerun_fails_elsewhere() -> None:
    reruns = [
        rerun("m1", RunStatus.GREEN, failing=False),
        failing_rerun("m2", "custom", "test_export_completes", "assert 'failed' == 'complete'"),
    ]
    d = decide(facts(reruns=reruns))
    assert d is not None and d.category == "flake"
    assert "green in 1 of 2 isolation rerun(s)" in d.reason and "failed elsewhere" in d.reason
    alone = decide(facts(reruns=reruns[:1]))
    assert alone is not None and d.confidence < alone.confidence


def test_no_advice_to_rerun_when_a_rerun_exists() -> None:
    for reruns in ([], [rerun("m1", RunStatus.RED)], [rerun("m1", RunStatus.GREEN, failing=False)]):
        d = decide(facts(reruns=reruns, signatures=[signature("upstream-defect")]))
        assert d is not None
        assert (d.settle is NextStep.ISOLATION_RERUN) == (not reruns), (reruns, d)
        assert "!ccci" not in d.reason


def test_a_shared_cause_is_infra_evidence_in_each_verdict() -> None:
    shared = SharedCause("sweep-1", "backup", "backups", "restic: repository is already locked", ("a", "b", "r"))
    d = decide(facts(shared=[shared]))
    assert d is not None and d.category == "infra"
    assert "3 recipes of this sweep fail in backup the same way, in backups they share (a, b, r)" in d.reason
    assert any(e.kind == "shared-cause" for e in d.evidence)
    # rerun evidence still beats it
    green = decide(facts(shared=[shared], reruns=[rerun("m1", RunStatus.GREEN, failing=False)]))
    assert green is not None and green.category == "flake"


def test_a_run_cut_off_at_its_deadline_names_the_tier_that_was_running() -> None:
    missing = EvidenceItem(
        EvidenceKind.RESULTS_MISSING, "753", "results.json", None, "results.json missing (runner died?)"
    )
    cut = CutOff("backup", "cc-ci", 143, 812, "log ends at line 812 inside tier backup: ...", "run.log")
    d = decide(facts(problems=[missing], cutoff=cut, failures=[]))
    assert d is not None and d.category == "infra"
    assert "cut off while tier backup (cc-ci) was running, exit 143" in d.reason
    assert any(e.kind == "cut-off" and e.line == 812 for e in d.evidence)


def test_the_engine_cites_cc_cis_files_by_their_configured_names() -> None:
    """Rerun and canonical evidence and a cut-off's reason name the files as the config does."""
    renamed = Layout("outcome.json", "runner.txt", "xml-reports", "stable.json")
    missing = EvidenceItem(EvidenceKind.RESULTS_MISSING, "753", "outcome.json", None, "outcome.json missing")
    cut = CutOff("backup", "cc-ci", 143, 812, "log ends at line 812 inside tier backup: ...", "runner.txt")
    d = decide(facts(problems=[missing], cutoff=cut, failures=[], layout=renamed))
    assert d is not None and "no outcome.json, and the log ends inside that tier" in d.reason
    assert [(e.path, e.line) for e in d.evidence if e.kind is EvidenceKind.CUT_OFF] == [("runner.txt", 812)]
    canon = Canonical("r", "1.0.0+1", "abc", "idle", T0 + 100)
    flake = decide(facts(reruns=[rerun("m1", RunStatus.GREEN, False)], canonical=canon, layout=renamed))
    assert flake is not None
    assert {e.kind: e.path for e in flake.evidence} == {
        EvidenceKind.RERUN: "outcome.json",
        EvidenceKind.CANONICAL: "stable.json",
    }


def test_every_confidence_lives_in_the_confidence_module() -> None:
    """No number literal in the engine is a confidence: they are named in bot/verdicts/confidence.py."""
    import ast
    import inspect

    from bot.verdicts import engine

    floats = [
        node.value
        for node in ast.walk(ast.parse(inspect.getsource(engine)))
        if isinstance(node, ast.Constant) and isinstance(node.value, float)
    ]
    assert set(floats) <= {0.0}, floats  # only "no bonus" and "no penalty"
    assert all(0 < v < 1 for v in confidence.ALL.values())


def test_a_red_rerun_without_failing_tests_is_not_called_missing() -> None:
    """A rerun red without a failing testcase neither decides nor may be talked about as absent."""
    red_nothing = RerunFact("m1", RunStatus.RED, True, False, frozenset(), T0 + 3600)
    d = decide(facts(reruns=[red_nothing]))
    assert d is not None and d.category is Category.UNKNOWN
    assert "no deciding isolation rerun" in d.reason and "more isolation reruns would tell" in d.reason
    assert d.settle is NextStep.MORE_RERUNS


DOCS = Path(__file__).resolve().parent.parent / "docs" / "knowledge-base.md"


def documented_rules(text: str) -> list[tuple[int, str]]:
    """The numbered lines of "How evidence decides" that name a rule: (number, name), in order."""
    section = text.split("## How evidence decides", 1)[1].split("\n## ", 1)[0]
    return [(int(m[1]), m[2]) for m in re.finditer(r"^(\d+)\. `([a-z_]+)` — ", section, re.MULTILINE)]


def test_the_docs_list_the_engine_rules_by_name_in_the_code_order() -> None:
    """docs/knowledge-base.md names every rule of RULES, one numbered line each, in the order they run."""
    listed = documented_rules(DOCS.read_text(encoding="utf-8"))
    assert [n for n, _ in listed] == list(range(1, len(listed) + 1))
    assert [name for _, name in listed] == [rule.__name__ for rule in RULES]


def test_the_docs_check_sees_a_rule_out_of_order() -> None:
    """The parser reads only the section's numbered rule lines, so a swap in the docs is a failure above."""
    text = "## How evidence decides\n\n1. `green_alone` — x\n2. `intermittent_alone` — y\n\n## Next\n3. `unknown` — z\n"
    assert documented_rules(text) == [(1, "green_alone"), (2, "intermittent_alone")]
    assert [name for _, name in documented_rules(text)] != [rule.__name__ for rule in RULES][:2]


def test_every_rule_decides_some_red_run_and_names_itself() -> None:
    """Each rule is reachable: a hand-made red run for each, decided by that rule (first match wins)."""
    canon_after = Canonical("r", "1.0.0+1", "abc", "idle", T0 + 100)
    elsewhere = RerunFact("m9", RunStatus.RED, True, False, frozenset({("install", "test_other")}), T0 + 3600)
    error = replace(FAILURE, status=TestStatus.ERROR)
    harness = [*TIERS[:3], TierResult("restore", TestStatus.ERROR), TierResult("custom", TestStatus.UNVER)]
    red_again = [rerun("m1", RunStatus.RED)]
    stale = StaleFinding("test_restore_returns_state", "img:2", Presence.NOWHERE, 5, "main", (), "/clone")
    shared = SharedCause("s1", "restore", "backups", "relation does not exist", ("a", "b", "r"))
    flips = [replace(run(f"h{i}", s), sweep_id=None) for i, s in enumerate([RunStatus.RED, RunStatus.GREEN] * 2)]
    cases = {
        "intermittent_alone": facts(reruns=[rerun("m1", RunStatus.RED), rerun("m2", RunStatus.GREEN, False)]),
        "untested_green_alone": facts(failures=[error], tiers=harness, reruns=[rerun("m2", RunStatus.GREEN, False)]),
        "green_alone": facts(canonical=canon_after),
        "failed_elsewhere_alone": facts(reruns=[elsewhere]),
        "registry_probe": facts(signatures=[signature("upstream-defect")], probes=[probed(Outcome.ABSENT)]),
        "structural": facts(failures=[error], tiers=harness),
        "stale_test": facts(stale=[stale]),
        "deterministic_signature": facts(reruns=red_again, signatures=[signature("upstream-defect")]),
        "deterministic_peer_labels": facts(reruns=red_again, peer_labels=[LABELS]),
        "deterministic_undecided": facts(reruns=red_again),
        "shared_cause": facts(shared=[shared]),
        "repeated_signature": facts(repeated=TWICE, signatures=[signature("recipe-defect")]),
        "repeated_peer_labels": facts(repeated=TWICE, peer_labels=[LABELS]),
        "repeated_undecided": facts(repeated=TWICE),
        "pattern_only": facts(signatures=[signature("flake")]),
        "flipping": facts(same_version_history=flips),
        "unknown": facts(),
    }
    assert list(cases) == [rule.__name__ for rule in RULES]
    strengths = {
        "intermittent_alone": Strength.RERUNS,
        "untested_green_alone": Strength.RERUNS,
        "green_alone": Strength.GREEN_LATER,  # a canonical alone; with a green isolation rerun: RERUNS
        "failed_elsewhere_alone": Strength.RERUNS_DISAGREE,
        "registry_probe": Strength.PROBED,
        "structural": Strength.RUN_RECORD,
        "stale_test": Strength.CHECKED,
        "deterministic_signature": Strength.REPRODUCED,
        "deterministic_peer_labels": Strength.REPRODUCED,
        "deterministic_undecided": Strength.REPRODUCED,
        "shared_cause": Strength.SHARED,
        "repeated_signature": Strength.REPEATED,
        "repeated_peer_labels": Strength.REPEATED,
        "repeated_undecided": Strength.REPEATED,
        "pattern_only": Strength.PATTERN,
        "flipping": Strength.PATTERN,
        "unknown": Strength.NOTHING,
    }
    for name, case in cases.items():
        d = decide(case)
        assert d is not None and d.rule == name, (name, d)
        assert d.strength is strengths[name], (name, d.strength)
    # `find-cause` (nothing to rerun) is only ever said of an `unknown` whose failure repeats
    for case in cases.values():
        d = decide(case)
        assert d is not None
        if d.settle is NextStep.FIND_CAUSE:
            assert d.category is Category.UNKNOWN and d.strength in (Strength.REPRODUCED, Strength.REPEATED)


def test_an_image_tag_absent_from_its_registry_settles_upstream_without_a_rerun() -> None:
    """Even where the pull failure looks like harness errors before unverified tiers (structural)."""
    error = replace(FAILURE, status=TestStatus.ERROR, message=f"manifest for {IMAGE} not found: manifest unknown")
    harness = [*TIERS[:3], TierResult("restore", TestStatus.ERROR), TierResult("custom", TestStatus.UNVER)]
    case = facts(failures=[error], tiers=harness, signatures=[signature("upstream-defect")])
    assert decide(case).rule == "structural"  # type: ignore[union-attr]
    d = decide(replace(case, probes=[probed(Outcome.ABSENT)]))
    assert d is not None and d.rule == "registry_probe"
    assert d.category is Category.UPSTREAM_DEFECT and d.confidence == confidence.PROBE_ABSENT
    assert d.settle is None  # settled: no rerun advised
    assert d.reason.startswith(f"{IMAGE} is not in its registry") and "checked in the registry" in d.reason
    assert "matches sig-upstream-defect" in d.reason
    probes = [e for e in d.evidence if e.kind is EvidenceKind.PROBE]
    assert len(probes) == 1 and probes[0].path == MANIFEST_URL and "HEAD answered 404" in probes[0].excerpt


def test_rerun_evidence_of_the_version_comes_before_the_probe() -> None:
    d = decide(facts(reruns=[rerun("m1", RunStatus.GREEN, False)], probes=[probed(Outcome.ABSENT)]))
    assert d is not None and d.rule == "green_alone"
    assert [e.path for e in d.evidence if e.kind is EvidenceKind.PROBE] == [MANIFEST_URL]  # still said


def test_a_tag_present_in_its_registry_takes_the_image_gone_signature_away() -> None:
    """The verdict falls through to the other rules: here an infra pattern, never "upstream image gone"."""
    gone, transient = signature("upstream-defect", weight=0.65), signature("infra", "log", weight=0.6)
    assert decide(facts(signatures=[gone, transient])).category is Category.UPSTREAM_DEFECT  # type: ignore[union-attr]
    d = decide(facts(signatures=[gone, transient], probes=[probed(Outcome.PRESENT)]))
    assert d is not None and d.rule == "pattern_only" and d.category is Category.INFRA
    assert f"the registry has {IMAGE} (checked), so sig-upstream-defect does not hold" in d.reason
    assert [e.kind for e in d.evidence].count(EvidenceKind.PROBE) == 1
    alone = decide(facts(signatures=[gone], probes=[probed(Outcome.PRESENT)]))
    assert alone is not None and alone.rule == "unknown" and alone.category is Category.UNKNOWN
    assert "does not hold" in alone.reason


def test_a_present_tag_does_not_touch_a_signature_whose_text_did_not_name_it() -> None:
    d = decide(facts(signatures=[signature("upstream-defect")], probes=[probed(Outcome.PRESENT, frozenset({"x"}))]))
    assert d is not None and d.category is Category.UPSTREAM_DEFECT and d.rule == "pattern_only"


def test_no_answer_from_the_registry_changes_no_verdict_and_is_said_once() -> None:
    case = facts(signatures=[signature("upstream-defect")])
    before = decide(case)
    assert before is not None
    for outcome in (Outcome.UNREACHABLE, Outcome.REFUSED):
        d = decide(replace(case, probes=[probed(outcome)]))
        assert d is not None
        assert (d.category, d.confidence, d.reason, d.rule, d.settle) == (
            before.category,
            before.confidence,
            before.reason,
            before.rule,
            before.settle,
        )
        said = [e for e in d.evidence if e.kind is EvidenceKind.PROBE]
        assert len(said) == 1 and "could not be checked" in said[0].excerpt
