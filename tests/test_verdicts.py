"""Verdicts on generated cc-ci data (made by really running pytest): what cc-ci's operators found by hand."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from bot.answers.summary import summary
from bot.answers.why import why
from bot.ingest.scan import ingest
from bot.kb import load_kb
from bot.model.records import EvidenceKind, NextStep, RunStatus, Strength
from bot.render import to_chat, to_json, to_text
from bot.store.status_run import status_run
from bot.verdicts import confidence
from bot.verdicts.cache import Verdicts
from bot.verdicts.engine import RULES
from bot.verdicts.facts import repeated_across_sweeps
from bot.verdicts.staletest import GitRecipeSearch, parse_expectation
from demo.sample.generate import GeneratedData
from demo.sample.staging import copy_runs, runs_of_sweep_window, runs_up_to
from tests import rawdb
from tests.conftest import Site
from tests.junit_maker import run_pytest_junit


@pytest.fixture
def judged(site: Site) -> tuple[Site, Verdicts]:
    ingest(site.store, site.config)
    verdicts = Verdicts(site.store, site.config, load_kb(), GitRecipeSearch())
    verdicts.decide_again()
    return site, verdicts


def red_now(sample: GeneratedData) -> dict[str, str]:
    """Recipes red in the latest sweep, with the category their scenario was built to show."""
    last = max(r.sweep for r in sample.runs if r.sweep is not None)
    return {r.recipe: str(r.expected_category) for r in sample.runs if r.sweep == last and r.red}


def test_every_category_on_generated_data(judged: tuple[Site, Verdicts], sample: GeneratedData) -> None:
    site, verdicts = judged
    expected = red_now(sample)
    assert set(expected.values()) == {"flake", "recipe-defect", "stale-test", "upstream-defect", "infra", "unknown"}
    for recipe, category in expected.items():
        answer = why(site.store, site.config, recipe, verdicts)
        assert answer.verdict is not None, recipe
        assert answer.verdict.category == category, (recipe, answer.verdict)
        assert 0.0 <= answer.verdict.confidence <= 1.0
        assert answer.verdict.kb_version == verdicts.kb.version


def test_each_verdict_names_the_rule_that_decided_it(judged: tuple[Site, Verdicts], sample: GeneratedData) -> None:
    """The deciding rule is stored with the verdict and shown in JSON (issue 23 reports per rule)."""
    site, verdicts = judged
    names = [rule.__name__ for rule in RULES]
    seen: dict[str, str] = {}
    for recipe in red_now(sample):
        answer = why(site.store, site.config, recipe, verdicts)
        assert answer.verdict is not None and answer.run_id is not None
        stored = site.store.verdicts.get(answer.run_id)
        assert stored is not None and stored.verdict.rule == answer.verdict.rule  # read back from the store
        stored = site.store.verdicts.get(answer.run_id)
        assert stored is not None and stored.verdict.rule == answer.verdict.rule  # read back from the store
        assert stored.verdict.strength is answer.verdict.strength is not None  # what it rests on, stored with it
        assert answer.verdict.rule in names, (recipe, answer.verdict)
        assert to_json(answer)["verdict"]["rule"] == answer.verdict.rule
        assert to_json(answer)["verdict"]["strength"] == answer.verdict.strength.value  # an added key
        seen[recipe] = answer.verdict.rule
    assert len(set(seen.values())) == len(seen)  # six scenarios, six different reasons to decide
    assert (seen["mumble"], seen["discourse"], seen["outline"]) == ("green_alone", "stale_test", "unknown")
    assert seen["bluesky"] == "repeated_signature"  # its pulled image failed sweeps 2 and 3 the same way


def test_discourse_is_a_stale_test_never_the_prepull_compose_error(judged: tuple[Site, Verdicts]) -> None:
    site, verdicts = judged
    answer = why(site.store, site.config, "discourse", verdicts)
    assert answer.verdict is not None
    assert answer.verdict.category == "stale-test"
    assert answer.verdict.confidence >= 0.9  # a verified fact plus an isolation rerun that failed the same way
    assert "discourse/discourse:3.5.3" in answer.verdict.reason
    assert "no release tag" in answer.verdict.reason
    for item in answer.evidence:
        assert "depends on undefined service" not in item.excerpt, item
        assert "compose-invalid" not in item.excerpt
    assert any(e.kind == "stale-test" for e in answer.evidence)


def test_mattermost_is_a_recipe_defect_with_its_peers_databases_compared(judged: tuple[Site, Verdicts]) -> None:
    site, verdicts = judged
    answer = why(site.store, site.config, "mattermost-lts", verdicts)
    assert answer.verdict is not None and answer.verdict.category == "recipe-defect"
    assert answer.verdict.confidence >= 0.8
    peers = [e for e in answer.evidence if e.kind == "peer"]
    assert any("bonfire, immich pass test_restore_returns_state" in e.excerpt for e in peers)
    # the operators' comparison by hand, made from the two effective composes at the versions tested:
    # bonfire keeps its database in compose.postgres.yml, and it is that `db` that is compared (issue 26)
    labels = [e for e in answer.evidence if e.kind == "peer-labels"]
    restore_hook = [e for e in labels if "backupbot.restore.post-hook" in e.excerpt]
    assert restore_hook, labels
    assert restore_hook[0].excerpt.startswith(
        "bonfire's db service (compose.postgres.yml) has backupbot.restore.post-hook: /pg_backup.sh restore; "
        "mattermost-lts's postgres service (compose.yml) has none (paired as postgres databases"
    )
    assert not any("bonfire's app service" in e.excerpt for e in labels)
    assert "backupbot.restore.post-hook" in answer.verdict.reason and "compose.postgres.yml" in answer.verdict.reason
    assert any(e["kind"] == "peer-labels" for e in to_json(answer)["evidence"])


def test_mumble_is_a_flake_settled_by_the_isolation_rerun(judged: tuple[Site, Verdicts]) -> None:
    site, verdicts = judged
    answer = why(site.store, site.config, "mumble", verdicts)
    assert answer.verdict is not None and answer.verdict.category == "flake"
    assert answer.verdict.confidence >= 0.8
    assert [r.status for r in answer.reruns if r.isolated] == [RunStatus.GREEN]
    assert "green in 1 of 1 isolation rerun" in answer.verdict.reason
    assert "canonical" in answer.verdict.reason  # written after the red, for the same version


@pytest.mark.writes_runs
def test_a_pattern_alone_until_it_fails_the_same_way_in_the_next_sweep(site: Site, sample: GeneratedData) -> None:
    """bluesky's withdrawn image tag: "pattern only" in its first red sweep (2); red the same way in
    sweep 3 as well, the failure's repetition is evidence, and it is no longer a pattern alone."""
    held = site.runs_dir.parent / "held"
    held.mkdir()
    for child in site.runs_dir.iterdir():
        child.rename(held / child.name)
    copy_runs(sample, runs_up_to(sample, 2), site.runs_dir)
    ingest(site.store, site.config)
    verdicts = Verdicts(site.store, site.config, load_kb(), GitRecipeSearch())
    first = why(site.store, site.config, "bluesky", verdicts).verdict
    assert first is not None and first.category == "upstream-defect" and first.rule == "pattern_only"
    assert first.confidence < 0.7 and first.strength is Strength.PATTERN
    assert "an isolation rerun would tell a flake from a deterministic failure" in first.reason
    assert "!ccci" not in first.reason and first.settle is NextStep.ISOLATION_RERUN

    copy_runs(sample, runs_of_sweep_window(sample, 3), site.runs_dir)
    ingest(site.store, site.config)
    answer = why(site.store, site.config, "bluesky", verdicts)
    later = answer.verdict
    assert later is not None and later.category == "upstream-defect" and later.rule == "repeated_signature"
    assert later.strength is Strength.REPEATED and later.settle is None
    assert later.confidence == confidence.REPEATED_TWICE > first.confidence
    assert "red the same way in the last 2 sweeps of 0.4.0+0.4.182" in later.reason
    (earlier,) = [e for e in answer.evidence if e.kind is EvidenceKind.REPEATED]
    bluesky_sweep_2 = next(r.run_id for r in sample.runs_of("bluesky") if r.sweep == 2)
    assert earlier.run_id == bluesky_sweep_2 and earlier.url is not None


def test_red_the_same_way_across_sweeps_is_read_from_the_store(judged: tuple[Site, Verdicts]) -> None:
    """mattermost-lts failed its restore test the same way in all three sweeps; outline is newly red; a
    sweep that failed otherwise (another message shape) ends the streak."""
    site, _ = judged
    mattermost = status_run(site.store.runs, "mattermost-lts")
    outline = status_run(site.store.runs, "outline")
    assert mattermost is not None and outline is not None
    found = repeated_across_sweeps(site.store, mattermost, site.store.results.failures(mattermost.run_id))
    assert found is not None and found.sweeps == 3 and found.run_ids[0] == mattermost.run_id
    assert repeated_across_sweeps(site.store, outline, site.store.results.failures(outline.run_id)) is None
    previous = found.run_ids[1]
    with rawdb.writing(site.store) as c:
        c.execute("UPDATE failures SET message = 'psql: connection refused' WHERE run_id = ?", (previous,))
    assert repeated_across_sweeps(site.store, mattermost, site.store.results.failures(mattermost.run_id)) is None


def test_no_deciding_evidence_is_unknown_and_unsure(judged: tuple[Site, Verdicts]) -> None:
    site, verdicts = judged
    answer = why(site.store, site.config, "outline", verdicts)
    assert answer.verdict is not None
    assert answer.verdict.category == "unknown"
    assert answer.verdict.confidence < 0.5
    assert "an isolation rerun would tell" in answer.verdict.reason and "!ccci" not in answer.verdict.reason
    assert answer.verdict.settle is NextStep.ISOLATION_RERUN
    # the chat adds the command in the room's syntax; the CLI in its own; JSON only says what would settle it
    chat = to_chat(answer, "!ccci")
    assert "`!ccci rerun outline`" in chat.body and "<code>!ccci rerun outline</code>" in chat.html
    assert chat.thread is not None and "`!ccci rerun outline`" in chat.thread[0]
    assert "`ccci-bot rerun outline`" in to_text(answer) and "!ccci" not in to_text(answer)
    as_json = to_json(answer)
    assert as_json["verdict"]["settle"] == "isolation-rerun" and "!ccci" not in json.dumps(as_json)


def test_green_recipes_get_no_verdict(judged: tuple[Site, Verdicts], sample: GeneratedData) -> None:
    site, verdicts = judged
    last = max(r.sweep for r in sample.runs if r.sweep is not None)
    for gen in [r for r in sample.runs if r.sweep == last and not r.red]:
        assert why(site.store, site.config, gen.recipe, verdicts).verdict is None


@pytest.mark.writes_runs
def test_summary_carries_verdicts_and_clusters(judged: tuple[Site, Verdicts], sample: GeneratedData) -> None:
    site, verdicts = judged
    # A second recipe failing the same way (another pds image, another host) must cluster with bluesky.
    last = max(r.sweep for r in sample.runs if r.sweep is not None)
    source = next(r for r in sample.runs_of("bluesky") if r.sweep == last and r.red)
    twin = site.runs_dir / "ab-twin"
    shutil.copytree(site.runs_dir / source.run_id, twin)
    results = json.loads((twin / "results.json").read_text())
    results.update(recipe="bluesky-pds", run_id="ab-twin")
    (twin / "results.json").write_text(json.dumps(results))
    for xml in (twin / "junit").glob("*.xml"):
        xml.write_text(
            xml.read_text().replace("ghcr.io/bluesky-social/pds:0.4.182", "registry.example.social/pds:0.5.1")
        )
    for path in [twin / "results.json", *(twin / "junit").glob("*.xml")]:
        shutil.copystat(site.runs_dir / source.run_id / "results.json", path)
    ingest(site.store, site.config)
    answer = summary(site.store, site.config, verdicts=verdicts)
    by_recipe = {row.recipe: row for row in answer.rows}
    assert by_recipe["mumble"].verdict is not None and by_recipe["mumble"].verdict.category == "flake"
    shared = [c for c in answer.clusters if set(c.recipes) == {"bluesky", "bluesky-pds"}]
    assert any("manifest unknown" in c.signature for c in shared), answer.clusters


def test_reclassify_applies_new_rules_and_stamps_their_version(judged: tuple[Site, Verdicts], tmp_path: Path) -> None:
    site, verdicts = judged
    before = why(site.store, site.config, "outline", verdicts).verdict
    assert before is not None
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "outline.yaml").write_text(
        """
signatures:
  - id: export-incomplete
    category: recipe-defect
    description: Collection export never completes; outline's upload limit is too low for it.
    weight: 0.6
    match: [{failure: "assert 'failed' == 'complete'"}]
    examples: {match: ["assert 'failed' == 'complete'"], no_match: ["assert 'complete' == 'complete'"]}
"""
    )
    newer = Verdicts(site.store, site.config, load_kb([rules]), GitRecipeSearch())
    newer.decide_again()
    stored = site.store.verdicts.get(why(site.store, site.config, "outline").run_id or "")
    assert stored is not None
    verdict, version = stored.verdict, stored.kb_version
    assert version == newer.kb.version != verdicts.kb.version
    assert verdict.category == "recipe-defect" != before.category
    assert verdict.confidence < 0.7  # still a pattern alone


def git(repo: Path, *args: str) -> None:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@x",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@x",
        "PATH": "/usr/bin:/bin:/usr/local/bin",
        "HOME": str(repo),
    }
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


def test_stale_search_tells_released_main_only_and_nowhere(tmp_path: Path) -> None:
    repo = tmp_path / "recipe"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "compose.yml").write_text("services:\n  app:\n    image: example/app:1.0\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "1.0")
    git(repo, "tag", "1.0.0+1.0")
    (repo / "compose.yml").write_text("services:\n  app:\n    image: example/app:2.0\n")
    git(repo, "commit", "-qam", "2.0 unreleased")
    search = GitRecipeSearch()
    junit = run_pytest_junit(
        tmp_path / "suite",
        "upgrade__cc-ci__test_upgrade",
        """
def test_image_released():
    assert "example/app:0.9" == "example/app:1.0"
def test_image_unreleased():
    assert "example/app:1.0" == "example/app:2.0"
def test_image_nowhere():
    assert "example/app:1.0" == "example/app:3.0"
""",
    )
    from bot.artifacts.junit import read_junit

    messages = {t.name: t.message for t in read_junit(junit, "j").tests}
    where = {}
    for name, message in messages.items():
        expectation = parse_expectation(name, message)
        assert expectation is not None, message
        finding = search.check(repo, expectation)
        assert finding is not None
        where[name] = finding.where
    assert where == {
        "test_image_released": "released",
        "test_image_unreleased": "main-only",
        "test_image_nowhere": "nowhere",
    }
