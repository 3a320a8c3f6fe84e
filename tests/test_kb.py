from pathlib import Path

import pytest

from bot.config import parse_config
from bot.kb import load_kb

SHIPPED = load_kb()


def test_shipped_knowledge_base_loads_cleanly() -> None:
    assert SHIPPED.problems == []
    assert {s.category for s in SHIPPED.signatures} >= {"infra", "upstream-defect", "flake", "recipe-defect"}
    assert SHIPPED.version.startswith("kb-")


@pytest.mark.parametrize("sig", SHIPPED.signatures, ids=lambda s: s.id)
def test_every_signature_matches_its_examples_and_not_its_counter_examples(sig: object) -> None:
    from bot.kb import Signature

    assert isinstance(sig, Signature)
    for text in sig.examples_match:
        assert sig.matches_any(text), f"{sig.id} should match {text!r}"
    for text in sig.examples_no_match:
        assert not sig.matches_any(text), f"{sig.id} should not match {text!r}"


GOOD = """
signatures:
  - id: outline-export-limit
    category: recipe-defect
    description: Outline's upload limit is below what a collection export needs.
    match:
      - failure: "assert 'failed' == 'complete'"
    examples:
      match: ["AssertionError: assert 'failed' == 'complete'"]
      no_match: ["assert 'complete' == 'complete'"]
"""

BAD = """
signatures:
  - id: broken-regex
    category: infra
    description: x
    match: [{failure: "(unclosed"}]
    examples: {match: ["a"], no_match: ["b"]}
  - id: no-examples
    category: infra
    description: x
    match: [{failure: "x"}]
  - id: bad-category
    category: cosmic-rays
    description: x
    match: [{failure: "x"}]
    examples: {match: ["x"], no_match: ["y"]}
  - id: fine-one
    category: infra
    description: A good signature beside bad ones still loads.
    match: [{log: "kernel: Out of memory"}]
    examples: {match: ["kernel: Out of memory: Killed process 42"], no_match: ["memory ok"]}
"""


def test_operator_signatures_add_to_the_shipped_ones_and_bad_ones_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(GOOD)
    (tmp_path / "bad.yaml").write_text(BAD)
    (tmp_path / "broken.yml").write_text("signatures: [\n")
    kb = load_kb([tmp_path, tmp_path / "missing"])
    ids = {s.id for s in kb.signatures}
    assert {"outline-export-limit", "fine-one"} <= ids
    assert not ids & {"broken-regex", "no-examples", "bad-category"}
    text = "\n".join(kb.problems)
    assert "broken-regex" in text and "invalid regular expression" in text
    assert "no-examples" in text and "examples" in text
    assert "bad-category" in text and "category" in text
    assert "broken.yml" in text and "not valid YAML" in text
    assert "missing" in text and "not found" in text
    assert kb.version != SHIPPED.version
    assert len(kb.signatures) == len(SHIPPED.signatures) + 2


def test_an_operator_signature_replaces_a_shipped_one_with_the_same_id(tmp_path: Path) -> None:
    (tmp_path / "override.yaml").write_text(
        GOOD.replace("outline-export-limit", "timeout-under-load").replace("recipe-defect", "infra")
    )
    kb = load_kb([tmp_path])
    sig = next(s for s in kb.signatures if s.id == "timeout-under-load")
    assert sig.category == "infra"
    assert sig.origin.endswith("override.yaml[0]")


def test_knowledge_dirs_come_from_the_config(tmp_path: Path) -> None:
    config = parse_config({"knowledge": {"dirs": [str(tmp_path)]}})
    assert config.knowledge.dirs == (tmp_path,)


def test_nonfatal_rules_recognise_the_discourse_prepull() -> None:
    rules = SHIPPED.nonfatal
    scary = 'service "sidekiq" depends on undefined service "discourse": invalid compose project'
    after = ["[2026-06-14T03:42:17Z] prepull failed (rc=15), skipping (deploy will pull as usual)"]
    assert rules.is_nonfatal(scary, after)
    assert not rules.is_nonfatal(scary, ["[2026-06-14T03:42:50Z] abra app deploy discourse"])
