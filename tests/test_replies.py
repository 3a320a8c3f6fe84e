"""Short in the room, whole on the page: the `why` reply, its thread, and how evidence is folded.

Every sample recipe's answer is rendered as the room gets it (:func:`bot.render.to_chat`); the
Matrix side (a real Synapse) is tests/test_matrix_bot.py.
"""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from bot.answers.why import why
from bot.chat.dispatch import Dispatcher, parse
from bot.cli import main
from bot.config import AccessConfig
from bot.ingest.scan import ingest
from bot.kb import load_kb
from bot.matrix.events import ChatMessage
from bot.model.answers import WhyAnswer
from bot.model.records import EvidenceItem, EvidenceKind, RunStatus
from bot.render import to_chat, to_json
from bot.render.evidence import blocks, shown_path, squeeze
from bot.render.text import BRIEF_LINES, why_brief, why_text
from bot.service import Service
from bot.verdicts.cache import Verdicts
from bot.verdicts.staletest import GitRecipeSearch
from commands import Context
from demo.sample.generate import GeneratedData
from tests.conftest import Site


@pytest.fixture
def answers(site: Site, sample: GeneratedData) -> dict[str, WhyAnswer]:
    ingest(site.store, site.config)
    verdicts = Verdicts(site.store, site.config, load_kb(), GitRecipeSearch())
    verdicts.decide_again()
    return {r: why(site.store, site.config, r, verdicts) for r in sorted({g.recipe for g in sample.runs})}


def test_every_sample_recipe_gets_at_most_twelve_lines_in_the_room(answers: dict[str, WhyAnswer]) -> None:
    reds = 0
    for recipe, a in answers.items():
        chat = to_chat(a, "!ccci")
        lines = chat.body.splitlines()
        assert 1 <= len(lines) <= BRIEF_LINES, (recipe, chat.body)
        assert chat.html.count("<br>") < BRIEF_LINES, recipe
        assert lines[0].startswith(recipe) and (a.version or "?") in lines[0]
        assert any(line.startswith("next: ") for line in lines), recipe
        if a.run_id is not None:  # the whole answer is the thread's: every failing test and rerun is there
            assert chat.thread is not None
            whole = chat.thread[0]
            assert all(f.test in whole for f in a.failures), recipe
            assert all(r.run_id in whole for r in a.reruns), recipe
            assert len(whole.splitlines()) > len(lines)
        if a.status is RunStatus.RED and a.failures:
            reds += 1
            assert a.verdict is not None
            verdict = next(line for line in lines if line.startswith("verdict: "))
            assert verdict.startswith(f"verdict: {a.verdict.category}, ")
            failing = next(line for line in lines if line.startswith("failing: "))
            assert failing.startswith(f"failing: {a.failures[0].tier}/{a.failures[0].test}")
            # the room's links: the run page, the log at the failure line, the JUnit file
            links = lines[-1]
            assert a.run_url and f"run: {a.run_url}" in links
            assert re.search(r"log: https://ci\.example\.org/runs/[^ ]+/run\.log#L\d+", links), links
            assert "junit: https://ci.example.org/runs/" in links
            # no log excerpt in the room: no numbered log line
            assert not re.search(r"^\s+\d+[> ] ", chat.body, re.M)
    assert reds >= 5


def test_the_next_action_fits_the_verdict(answers: dict[str, WhyAnswer]) -> None:
    def next_line(recipe: str) -> str:
        return next(x for x in to_chat(answers[recipe], "!ccci").body.splitlines() if x.startswith("next: "))

    assert next_line("outline") == "next: `!ccci rerun outline` (an isolation rerun settles it)"
    assert next_line("mumble").startswith("next: nothing to do: a flake")
    assert next_line("mattermost-lts").startswith("next: a look at the recipe: its labels differ from bonfire's")
    assert next_line("discourse").startswith("next: update cc-ci's test")
    assert next_line("gitea").startswith("next: nothing to do for the recipe: infra")
    green = next(r for r, a in answers.items() if a.status is RunStatus.GREEN)
    assert next_line(green) == f"next: nothing to do: {green} is green in its latest run"


def test_the_thread_quotes_each_log_line_once_and_one_header_per_group(answers: dict[str, WhyAnswer]) -> None:
    bluesky = answers["bluesky"]
    whole = why_text(bluesky, "!ccci")
    # a log line quoted once with a signature citing it "quoted above": test_fold_rules_on_made_up_items
    # (the sample's bluesky now cites its signature from the failure text, not a log line)
    # pytest's progress line loses its padding
    assert not re.search(r"\S {20,}\S", whole)
    assert "FFF  [100%]" in whole
    mattermost = why_text(answers["mattermost-lts"], "!ccci")
    peers = [e for e in answers["mattermost-lts"].evidence if e.kind is EvidenceKind.PEER_LABELS]
    assert len(peers) >= 2
    assert mattermost.count("[peer-labels]") == 1
    assert all(e.excerpt in mattermost for e in peers)


def test_folding_keeps_every_item_in_json(answers: dict[str, WhyAnswer]) -> None:
    """--json keeps every evidence item: folding is the renderers' only."""
    a = answers["mattermost-lts"]
    assert len(to_json(a)["evidence"]) == len(a.evidence)
    assert len(blocks(a.evidence)) < len([e for e in a.evidence if e.kind is not EvidenceKind.FAILURE])


def test_fold_rules_on_made_up_items() -> None:
    log = EvidenceItem(EvidenceKind.LOG, "7", "run.log", 5, "     4  a\n     5> b\n     6  c", "u#L5")
    sig = EvidenceItem(EvidenceKind.SIGNATURE, "7", "run.log", 6, "sig-x:\n     5  b\n     6> c\n     7  d", "u#L6")
    other_run = EvidenceItem(EvidenceKind.SIGNATURE, "8", "run.log", 6, "sig-y:\n     6> c", "v#L6")
    host = EvidenceItem(EvidenceKind.CANONICAL, None, "/var/lib/ci-warm/x/canonical.json", None, "canonical 1")
    shown = blocks([log, sig, other_run, host])
    assert shown[1].excerpts == ["sig-x (line 6, quoted above)"]
    assert shown[2].excerpts == ["sig-y:\n     6> c"]  # another run's log: its own quote
    assert shown[3].where is None and shown[3].excerpts == ["canonical 1"]
    assert shown_path("/tmp/x") is None and shown_path("run.log") == "run.log"
    assert (
        squeeze("    12  ." + " " * 190 + "[100%]\n    13      indented") == "    12  .  [100%]\n    13      indented"
    )


def test_cli_why_prints_the_whole_answer_and_brief_the_rooms(
    answers: dict[str, WhyAnswer], site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    dirs = ["--runs-dir", str(site.runs_dir), "--warm-dir", str(site.warm_dir), "--data-dir", str(site.config.data_dir)]
    assert main(["why", "bluesky", "--no-ingest", *dirs]) == 0
    whole = capsys.readouterr().out
    assert main(["why", "bluesky", "--no-ingest", "--brief", *dirs]) == 0
    brief = capsys.readouterr().out
    assert "evidence:" in whole and "evidence:" not in brief
    assert len(brief.strip().splitlines()) <= BRIEF_LINES < len(whole.splitlines())
    # the same lines as the room's but the links (the CLI here has no link base) and the command syntax
    assert brief.splitlines()[:4] == why_brief(answers["bluesky"]).splitlines()[:4]
    next_of = [line for line in brief.splitlines() if line.startswith("next: ")]
    assert next_of == [line for line in why_brief(answers["bluesky"]).splitlines() if line.startswith("next: ")]
    assert next_of == ["next: pin a version that exists upstream, or wait for upstream"]
    assert main(["why", "bluesky", "--no-ingest", "--brief", "--json", *dirs]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["evidence"]) == len(answers["bluesky"].evidence)  # JSON keeps every key and item


def test_the_dispatcher_puts_the_details_in_the_replys_thread(site: Site) -> None:
    ingest(site.store, site.config)
    service = Service(site.config)
    try:
        dispatcher = Dispatcher(
            lambda m: Context(service, "!ccci", m.sender, m.room_id), AccessConfig(), lambda r, s: 0
        )
        msg = ChatMessage("$ask", "!room", "@alice:x", "!ccci why outline", "m.text", 1)
        parsed = parse(msg.body, "!ccci")
        assert parsed is not None
        reply = asyncio.run(dispatcher.answer(msg, parsed))
        assert reply.thread is not None
        assert len(str(reply.content["body"]).splitlines()) <= BRIEF_LINES
        assert "evidence:" in str(reply.thread["body"]) and "m.relates_to" not in reply.thread
        help_reply = asyncio.run(dispatcher.answer(msg, parse("!ccci help", "!ccci")))  # type: ignore[arg-type]
        assert help_reply.thread is None
    finally:
        service.close()
