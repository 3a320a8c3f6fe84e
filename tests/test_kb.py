from pathlib import Path

import pytest

from bot.config import parse_config
from bot.kb import load_kb, read_kb

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


def test_the_files_give_the_version_unparsed_and_parse_to_the_same_knowledge_base(tmp_path: Path) -> None:
    """A stored verdict's freshness check needs only the version: reading the files gives it, parsing
    them later (the first decision) gives what load_kb gives, under that same version."""
    (tmp_path / "good.yaml").write_text(GOOD)
    (tmp_path / "broken.yml").write_text("signatures: [\n")
    dirs = [tmp_path, tmp_path / "missing"]
    files, kb = read_kb(dirs), load_kb(dirs)
    assert files.version == kb.version != SHIPPED.version
    assert files.problems == (f"{tmp_path / 'missing'}: knowledge directory not found; skipped",)  # no YAML read yet
    parsed = files.load()
    assert (parsed.version, parsed.problems) == (kb.version, kb.problems)
    assert [s.id for s in parsed.signatures] == [s.id for s in kb.signatures]
    (tmp_path / "good.yaml").write_text(GOOD + "# edited\n")
    assert read_kb(dirs).version != files.version


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


# --- patterns are RE2 (issue 25, item 7) ----------------------------------------------------------------

NOT_RE2 = r"""
signatures:
  - id: backreference
    category: infra
    description: The same word twice.
    match: [{failure: '(\w+) \1'}]
    examples: {match: ["again again"], no_match: ["once"]}
  - id: lookahead
    category: infra
    description: A timeout that is not a read timeout.
    match: [{failure: 'Timeout(?!Error)'}]
    examples: {match: ["Timeout"], no_match: ["TimeoutError"]}
  - id: end-of-text
    category: infra
    description: Ends with done.
    match: [{log: "done", regex: 'done\Z'}]
    examples: {match: ["done"], no_match: ["undone!"]}
  - id: nested-quantifier
    category: infra
    description: Only words (RE2 runs this in linear time, so it loads).
    match: [{failure: '^(\w+\s?)+$'}]
    examples: {match: ["just some words"], no_match: ["words!"]}
"""


def _knowledge(tmp_path: Path) -> Path:
    directory = tmp_path / "signatures"
    directory.mkdir()
    (directory / "mine.yaml").write_text(NOT_RE2)
    return directory


def test_a_signature_re2_cannot_run_is_refused_at_load_with_the_reason(tmp_path: Path) -> None:
    kb = load_kb([_knowledge(tmp_path)])
    ids = {s.id for s in kb.signatures}
    assert "nested-quantifier" in ids
    assert not ids & {"backreference", "lookahead", "end-of-text"}
    problems = {p.split(": ")[1]: p for p in kb.problems}
    assert set(problems) == {"backreference", "lookahead", "end-of-text"}, kb.problems
    assert "match[0].failure: RE2, the linear-time engine, cannot run it: backreferences" in problems["backreference"]
    assert "negative lookahead (?!…) is not supported" in problems["lookahead"]
    assert (
        "match[0].regex:" in problems["end-of-text"] and "write \\z for the end of the text" in problems["end-of-text"]
    )
    assert all(p.endswith("; signature skipped") for p in kb.problems)
    sig = next(s for s in kb.signatures if s.id == "nested-quantifier")
    assert sig.matches_failure("just some words") and not sig.matches_failure("a" * 5000 + "!")


def test_check_config_warns_about_each_signature_it_would_skip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    config = tmp_path / "config.yaml"
    config.write_text(f"ccci:\n  runs_dir: {tmp_path}\nknowledge:\n  dirs: [{_knowledge(tmp_path)}]\n")
    assert main(["check-config", str(config)]) == 0  # a warning, not an error: the bot runs without them
    out = capsys.readouterr().out
    warnings = [line for line in out.splitlines() if line.startswith("warning: knowledge: ")]
    assert len(warnings) == 3 and "backreferences (\\1 …) are not supported" in out
    assert "nested-quantifier" not in out


def test_doctor_shows_each_skipped_signature_as_a_warning(tmp_path: Path) -> None:
    import asyncio

    from bot.doctor import Doctor, Outcome, healthy, to_text
    from bot.doctor.local import knowledge

    config = parse_config({"knowledge": {"dirs": [str(_knowledge(tmp_path))]}})
    results = asyncio.run(knowledge(Doctor(None, {}, config=config)))
    assert [r.outcome for r in results] == [Outcome.WARN] * 3
    assert any("lookahead" in r.detail for r in results) and all("RE2 syntax" in r.fix for r in results)
    assert healthy(results)
    assert to_text(results).splitlines()[-1] == "all checks pass; 3 warning(s)"
    assert "! knowledge: " in to_text(results)
    clean = asyncio.run(knowledge(Doctor(None, {}, config=parse_config({}))))
    assert [r.outcome for r in clean] == [Outcome.PASS] and f"{len(SHIPPED.signatures)} signatures" in clean[0].detail
