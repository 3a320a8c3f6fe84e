"""`learn`: a pattern is checked against the recipe's current failure, every green run and the other reds,
refused with the reason (exit 2) when it fails a check, and with --apply written as a signature file the
knowledge base loads, after which the red is decided again. The sample world is real pytest output.

Sample world facts used: outline's current red (run 760) fails custom/test_collection_export_completes with
``assert 'failed' == 'complete'`` and has no verdict the knowledge base explains (unknown); outline's green
runs have a JUnit file naming that test; wordpress is green.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bot.chat.proposals import PROPOSAL_KEY, proposal_in
from bot.cli.main import main
from bot.ingest.scan import ingest
from bot.kb import load_kb
from bot.learn.propose import signature_id
from bot.model.learn import LearnRequest
from bot.model.records import Category
from tests.conftest import Site
from tests.test_commands import chat, cli_dirs

OUTLINE_ASSERT = "assert 'failed' == 'complete'"


@pytest.fixture
def taught(site: Site, tmp_path: Path) -> tuple[Site, list[str], Path]:
    """The sample world ingested, a config naming a knowledge dir, and the CLI's arguments for both."""
    ingest(site.store, site.config)
    kb_dir = tmp_path / "kb"
    config = tmp_path / "learn.yaml"
    config.write_text(yaml.safe_dump({"knowledge": {"dirs": [str(kb_dir)]}, "links": {"base_url": None}}))
    return site, ["--config", str(config), *cli_dirs(site)], kb_dir


def learn(args: list[str], *extra: str) -> int:
    return main(["learn", *extra, "--no-ingest", *args])


def test_a_pattern_matching_the_failure_and_no_green_run_is_proposed(
    taught: tuple[Site, list[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, args, kb_dir = taught
    assert learn(args, "outline", "recipe-defect", OUTLINE_ASSERT) == 0
    out = capsys.readouterr().out
    assert "✓ matches the current failure custom/test_collection_export_completes (run 760)" in out
    assert "✓ matches none of " in out and "Run it again with --apply" in out
    assert not kb_dir.exists()  # nothing written without --apply
    assert learn(args, "outline", "recipe-defect", OUTLINE_ASSERT, "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["accepted"] is True and data["refusal"] is None and data["matches_current"] is True
    assert data["green_runs"]["matched"] == 0 and data["green_runs"]["checked"] >= 20
    assert data["signature_id"] == signature_id(LearnRequest("outline", Category.RECIPE_DEFECT, OUTLINE_ASSERT))


def test_the_other_reds_a_pattern_would_weigh_on_are_named(
    taught: tuple[Site, list[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, args, _ = taught
    assert learn(args, "outline", "flake", "AssertionError", "--json") in (0, 2)
    data = json.loads(capsys.readouterr().out)
    others = {o["recipe"] for o in data["other_reds"]}
    assert "outline" not in others and {"bluesky", "discourse"} <= others  # both fail with an AssertionError


@pytest.mark.parametrize(
    ("recipe", "pattern", "refusal", "words"),
    [
        ("outline", "(a", "invalid", "invalid regular expression"),
        ("outline", "(a)\\1 'failed'", "unsupported", "backreferences (\\1 …) are not supported"),
        ("outline", "(?=failed)failed", "unsupported", "lookahead"),
        ("outline", "x*", "too-broad", "matches the empty text"),
        ("outline", "relation .ci_marker. does not exist", "no-match", "does not match the current failure"),
        ("outline", "test_collection_export", "matches-green", "green run(s) of"),
        ("wordpress", "anything", "not-red", "wordpress is green now"),
    ],
)
def test_each_refusal_exits_2_with_its_reason(
    taught: tuple[Site, list[str], Path],
    capsys: pytest.CaptureFixture[str],
    recipe: str,
    pattern: str,
    refusal: str,
    words: str,
) -> None:
    _, args, kb_dir = taught
    assert learn(args, recipe, "flake", pattern, "--apply") == 2
    out = capsys.readouterr().out
    assert out.startswith(f"Not learned ({refusal}): ") and words in out
    assert not kb_dir.exists()
    assert learn(args, recipe, "flake", pattern, "--json") == 2
    assert json.loads(capsys.readouterr().out)["refusal"] == refusal


def test_a_misspelt_category_or_unknown_recipe_gets_the_closest(
    taught: tuple[Site, list[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, args, _ = taught
    assert learn(args, "outline", "recipe-defekt", OUTLINE_ASSERT) == 2
    assert "did you mean recipe-defect?" in capsys.readouterr().err
    assert learn(args, "outlin", "flake", OUTLINE_ASSERT) == 2
    assert "did you mean outline" in capsys.readouterr().err
    assert learn(args, "../etc", "flake", OUTLINE_ASSERT) == 2
    assert "not a recipe name" in capsys.readouterr().err


def test_without_a_knowledge_dir_there_is_nowhere_to_write(
    taught: tuple[Site, list[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    site, _, _ = taught
    assert learn(cli_dirs(site), "outline", "recipe-defect", OUTLINE_ASSERT, "--apply") == 2
    assert "Not learned (no-directory): knowledge.dirs is empty" in capsys.readouterr().out


def test_apply_writes_a_file_the_knowledge_base_loads_and_the_red_is_reclassified(
    taught: tuple[Site, list[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, args, kb_dir = taught
    assert main(["why", "outline", "--json", "--no-ingest", *args]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"]["category"] == "unknown"
    assert learn(args, "outline", "recipe-defect", OUTLINE_ASSERT, "--apply", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    sid = data["signature_id"]
    (path,) = kb_dir.iterdir()
    assert path.name == f"{sid}.yaml" == data["taught"]["file"]
    text = path.read_text()
    assert text.startswith("# Taught with `learn` by ") and "from outline's run 760" in text
    kb = load_kb([kb_dir])
    assert not kb.problems
    (sig,) = [s for s in kb.signatures if s.id == sid]
    assert sig.category is Category.RECIPE_DEFECT
    assert all(sig.matches_failure(e) for e in sig.examples_match)
    assert not any(sig.matches_failure(e) for e in sig.examples_no_match)
    assert OUTLINE_ASSERT in sig.examples_match[0]  # the current failure's text is the must-match example
    outline = [v for v in data["taught"]["verdicts"] if v["recipe"] == "outline"]
    assert outline[0]["verdict"]["category"] == "recipe-defect" and outline[0]["verdict"]["kb_version"] == kb.version
    assert main(["why", "outline", "--json", "--no-ingest", *args]) == 0
    verdict = json.loads(capsys.readouterr().out)["verdict"]
    assert verdict["category"] == "recipe-defect" and sid in verdict["reason"]
    assert learn(args, "outline", "recipe-defect", OUTLINE_ASSERT, "--apply") == 2  # taught once
    assert "Not learned (already-known)" in capsys.readouterr().out


def test_in_chat_the_pattern_is_the_rest_of_the_line_and_the_reply_carries_the_proposal(
    taught: tuple[Site, list[str], Path],
) -> None:
    site, _, kb_dir = taught
    from msgspec.structs import replace

    site.config = replace(site.config, knowledge=replace(site.config.knowledge, dirs=(kb_dir,)))
    content = chat(site, f"!ccci learn outline recipe-defect {OUTLINE_ASSERT}")
    assert "An operator's 👍 on this message teaches it." in str(content["body"])
    assert proposal_in(content) == LearnRequest("outline", Category.RECIPE_DEFECT, OUTLINE_ASSERT)
    refused = chat(site, "!ccci learn outline recipe-defect nothing like it")
    assert PROPOSAL_KEY not in refused and "Not learned (no-match)" in str(refused["body"])
    assert not kb_dir.exists()  # chat never writes without a 👍


def test_the_green_check_reads_only_regular_files_inside_the_run(tmp_path: Path) -> None:
    """A log linked out of the run, a FIFO and a directory are not read (nor block); a link inside the run is."""
    import os

    from bot.artifacts.layout import Layout
    from bot.artifacts.textsearch import search_run
    from bot.linear_regex import LinearPattern, compile_signature

    layout = Layout("results.json", "run.log", "junit", "canonical.json")
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-TOKEN\n")
    pattern = compile_signature("SECRET-TOKEN")
    assert isinstance(pattern, LinearPattern)
    outside, fifo, inside = tmp_path / "outside", tmp_path / "fifo", tmp_path / "inside"
    for run in (outside, fifo, inside):
        (run / "junit").mkdir(parents=True)
    (outside / "run.log").symlink_to(secret)
    (outside / "junit" / "a.xml").symlink_to(secret)
    os.mkfifo(fifo / "run.log")
    (fifo / "junit" / "a.xml").mkdir()
    (inside / "real.txt").write_text("x\nSECRET-TOKEN here\n")
    (inside / "run.log").symlink_to(inside / "real.txt")
    assert search_run(str(outside), layout, pattern).hit is None
    assert not search_run(str(fifo), layout, pattern).read
    found = search_run(str(inside), layout, pattern).hit
    assert found is not None and found.path == "run.log" and found.excerpt == "SECRET-TOKEN here"
