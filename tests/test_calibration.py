"""`calibration` on the CLI (the chat command's twin) against real stored verdicts: the sample world is
ingested, the rules decide its reds, an operator gives verdicts by hand, and accuracy and Brier score are
what those stored verdicts make them."""

from __future__ import annotations

import asyncio
import json

import pytest

from bot.cli.main import main
from bot.model.records import Verdict
from bot.service import Service
from tests.conftest import Site
from tests.test_commands import cli_dirs


def _calibration(site: Site, capsys: pytest.CaptureFixture[str], *flags: str) -> str:
    code = main(["calibration", *cli_dirs(site), *flags])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def _rules_verdict(site: Site, recipe: str) -> Verdict:
    """The rules' verdict the why answer shows beside the operator's (read back, not assumed)."""
    service = Service(site.config)
    try:
        why = asyncio.run(service.why(recipe))
    finally:
        service.close()
    assert why.rules_verdict is not None and why.run_id is not None
    stored = site.store.verdicts.get(why.run_id)
    assert stored is not None and stored.verdict.category is why.rules_verdict.category  # the stored one
    return why.rules_verdict


def _verdict(site: Site, capsys: pytest.CaptureFixture[str], recipe: str, category: str) -> None:
    assert main(["verdict", recipe, category, "--reason", "checked by hand", *cli_dirs(site)]) == 0
    capsys.readouterr()


def test_no_hand_verdict_means_nothing_to_compare_yet(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(_calibration(site, capsys, "--json"))
    assert data == {"n": 0, "accuracy": None, "brier": None, "by_source": [], "without_rules": 0}
    assert _calibration(site, capsys, "--no-ingest").startswith("Nothing to compare yet")


def test_one_hand_verdict_agreeing_with_the_rules(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    _verdict(site, capsys, "discourse", "stale-test")
    rules = _rules_verdict(site, "discourse")
    assert rules.category.value == "stale-test" and rules.rule
    data = json.loads(_calibration(site, capsys, "--json", "--no-ingest"))
    assert (data["n"], data["accuracy"]) == (1, 1.0)
    assert data["brier"] == pytest.approx((rules.confidence - 1) ** 2, abs=1e-4)
    assert data["by_source"] == [
        {"rule": rules.rule, "n": 1, "accuracy": 1.0, "mean_confidence": round(rules.confidence, 4)}
    ]
    text = _calibration(site, capsys, "--no-ingest")
    assert "agree with the operators on 1 of 1" in text and f"{rules.rule}: 1 of 1 right" in text


def test_several_hand_verdicts_right_and_wrong_per_rule(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    _verdict(site, capsys, "discourse", "stale-test")  # the rules agree
    _verdict(site, capsys, "mumble", "recipe-defect")  # the rules say flake: its isolation rerun went green
    _verdict(site, capsys, "bluesky", "infra")
    rules = {r: _rules_verdict(site, r) for r in ("discourse", "mumble", "bluesky")}
    hand = {"discourse": "stale-test", "mumble": "recipe-defect", "bluesky": "infra"}
    right = {r: rules[r].category.value == hand[r] for r in rules}
    assert right["discourse"] and not right["mumble"]
    data = json.loads(_calibration(site, capsys, "--json", "--no-ingest"))
    assert data["n"] == 3
    assert data["accuracy"] == pytest.approx(sum(right.values()) / 3, abs=1e-4)
    brier = sum((rules[r].confidence - right[r]) ** 2 for r in rules) / 3
    assert data["brier"] == pytest.approx(brier, abs=1e-4)
    by_rule: dict[str, list[str]] = {}
    for r, v in rules.items():
        by_rule.setdefault(v.rule or "unnamed", []).append(r)
    assert {s["rule"]: s["n"] for s in data["by_source"]} == {k: len(v) for k, v in by_rule.items()}
    for s in data["by_source"]:
        recipes = by_rule[s["rule"]]
        assert s["accuracy"] == pytest.approx(sum(right[r] for r in recipes) / len(recipes), abs=1e-4)
        assert s["mean_confidence"] == pytest.approx(sum(rules[r].confidence for r in recipes) / len(recipes), abs=1e-4)
    # a new verdict for the same failure replaces the old one: mumble is now right, and counted once
    _verdict(site, capsys, "mumble", rules["mumble"].category.value)
    again = json.loads(_calibration(site, capsys, "--json", "--no-ingest"))
    assert again["n"] == 3 and again["accuracy"] > data["accuracy"]
