"""The operators' memory, end to end on real run dirs: the CLI twins of link/unlink/verdict/mute/unmute/
known, and recurrence when a later sweep's runs arrive (same fingerprint → kept; different → lapsed)."""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import time

import pytest

from bot.cli.main import main
from bot.ingest.scan import ingest
from bot.model.knowledge import KnowledgeKind
from bot.model.records import Category, VerdictOrigin
from bot.service import Service
from commands.args import UsageError, until_arg
from demo.sample.generate import GeneratedData
from demo.sample.staging import copy_runs, runs_of_sweep_window, runs_up_to
from tests.conftest import Site
from tests.test_commands import chat, cli_dirs

UNIX_USER = pwd.getpwuid(os.getuid()).pw_name
ISSUE = "https://git.example/mattermost-lts/issues/12"


def cli(site: Site, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([*args, *cli_dirs(site)])
    out, err = capsys.readouterr()
    return code, out, err


def cli_json(site: Site, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    code, out, err = cli(site, capsys, *args, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert isinstance(data, dict)
    return data


# --- the CLI twins ---------------------------------------------------------------------------------


def test_link_verdict_mute_known_and_their_undoing_on_the_cli(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    done = cli_json(site, capsys, "link", "mattermost-lts", ISSUE, "--note", "restore loses the marker table")
    assert done["action"] == "link" and done["by"] == UNIX_USER and done["url"] == ISSUE
    assert "restore/test_restore_returns_state" in str(done["failure"])
    done = cli_json(site, capsys, "verdict", "discourse", "stale-test", "--reason", "the test pins 3.5.3")
    assert done["category"] == "stale-test" and done["replaced"] is None
    done = cli_json(site, capsys, "mute", "bluesky", "2w", "--reason", "image withdrawn upstream")
    assert done["action"] == "mute"

    known = cli_json(site, capsys, "known")
    (issue,) = known["issues"]  # type: ignore[misc]
    assert issue["url"] == ISSUE and issue["recipes"] == ["mattermost-lts"] and issue["still_failing"] is True
    assert issue["hits"] >= 2  # every red run of it with this failure, earlier sweeps included
    assert issue["note"] == "restore loses the marker table" and issue["by"] == UNIX_USER
    (muted,) = known["muted"]  # type: ignore[misc]
    assert muted["recipe"] == "bluesky" and muted["applies"] is True

    why = cli_json(site, capsys, "why", "discourse", "--no-ingest")
    verdict = why["verdict"]
    assert isinstance(verdict, dict)
    assert verdict["source"] == "operator" and verdict["by"] == UNIX_USER and verdict["reason"] == "the test pins 3.5.3"
    assert isinstance(why["rules_verdict"], dict) and why["rules_verdict"]["source"] == "rules"
    assert why["state"] == "known" and why["muted"] is None
    why = cli_json(site, capsys, "why", "mattermost-lts", "--no-ingest")
    assert [k["matches_current"] for k in why["known_issues"]] == [True]  # type: ignore[union-attr]
    assert why["verdict"]["source"] == "rules"  # type: ignore[index]
    why = cli_json(site, capsys, "why", "bluesky", "--no-ingest")
    assert why["state"] == "muted" and why["muted"]["by"] == UNIX_USER  # type: ignore[index]

    summary = cli_json(site, capsys, "summary", "--no-ingest")
    counts = summary["counts"]
    assert isinstance(counts, dict)
    assert (counts["known"], counts["muted"]) == (2, 1)
    assert counts["need_look"] == counts["red"] - 3
    _code, out, _ = cli(site, capsys, "summary", "--no-ingest")
    assert f"{counts['red']} red: {counts['need_look']} need a look, 2 known, 1 muted" in out

    assert cli_json(site, capsys, "unlink", "mattermost-lts")["removed"] == [ISSUE]
    assert cli_json(site, capsys, "unmute", "bluesky")["action"] == "unmute"
    known = cli_json(site, capsys, "known")
    assert known == {"issues": [], "muted": []}
    trail = site.store.knowledge.audit()
    assert [e.action.value for e in trail] == ["unmute", "unlink", "mute", "verdict", "link"]
    assert {e.by for e in trail} == {UNIX_USER}


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("link", "mattermost-lts", "ftp://git.example/1"), "not an http(s) URL"),
        (("link", "mattermost-lts", "https://git.example/" + "x" * 490), "at most 500"),
        (("link", "mattermost-lts", ISSUE, "--note", "n" * 501), "at most 500"),
        (("link", "keycloak", ISSUE), "keycloak is green now"),
        (("link", "matermost-lts", ISSUE), "did you mean mattermost-lts"),
        (("verdict", "mattermost-lts", "recipe-defct"), "did you mean recipe-defect"),
        (("mute", "mattermost-lts", "2020-01-01"), "in the past"),
        (("mute", "mattermost-lts", "91d"), "more than 90 days"),
        (("mute", "mattermost-lts", "soon"), "not a date or span"),
        (("unmute", "mattermost-lts"), "not muted"),
        (("unlink", "mattermost-lts"), "has no link"),
    ],
)
def test_bad_input_is_refused_with_a_reason_and_exit_2_and_records_nothing(
    site: Site, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], says: str
) -> None:
    code, out, err = cli(site, capsys, *args)
    assert code == 2
    assert says in out + err
    assert site.store.knowledge.audit() == []


def test_notes_have_control_characters_escaped_and_secrets_masked(
    site: Site, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = site.config.data_dir.parent / "config.yaml"
    config.write_text("evidence:\n  mask_env: [CCCI_TEST_TOKEN]\n")
    monkeypatch.setenv("CCCI_TEST_TOKEN", "s3cr3t-t0ken-value")
    note = "waits on\nupstream \x1b[31m s3cr3t-t0ken-value"
    code, out, err = cli(site, capsys, "link", "mattermost-lts", ISSUE, "--note", note, "--config", str(config))
    assert code == 0, err
    (stored,) = site.store.knowledge.of("mattermost-lts").links
    assert "\n" not in stored.note and "\x1b" not in stored.note
    assert "\\n" in stored.note and "\\x1b" in stored.note
    assert "s3cr3t-t0ken-value" not in stored.note and "s3cr3t-t0ken-value" not in out


def test_mute_spans_and_dates_are_read_against_now() -> None:
    now = 1_780_000_000.0  # 2026-05-28
    assert until_arg("7d", now) == now + 7 * 86400
    assert until_arg("2w", now) == now + 14 * 86400
    assert until_arg("2026-06-01", now) == 1_780_358_400.0  # the end of that day, UTC
    for bad in ("0d", "13w", "2026-05-27", "2026-02-30", "2026-12-31"):
        with pytest.raises(UsageError):
            until_arg(bad, now)


# --- chat: the same commands, parsed from one line -----------------------------------------------------


def test_chat_takes_the_rest_of_the_line_as_the_note_and_a_long_url(site: Site) -> None:
    ingest(site.store, site.config)  # the bot scans on its own schedule; chat answers from the store
    long_url = "https://git.example/mattermost-lts/issues/12?" + "q" * 300
    body = str(chat(site, f"!ccci link mattermost-lts {long_url} restore loses  the marker table")["body"])
    assert "Linked mattermost-lts" in body
    (stored,) = site.store.knowledge.of("mattermost-lts").links
    assert stored.note == "restore loses the marker table" and stored.url == long_url and stored.by == "@alice:x"
    body = str(chat(site, "!ccci verdict mattermost-lts flakey because")["body"])
    assert "did you mean flake" in body and "Usage: `!ccci verdict <recipe> <category> [reason…]`" in body


# --- recurrence at ingest, with a later sweep's real run dirs --------------------------------------------


def _site_up_to_sweep_2(site: Site, sample: GeneratedData) -> None:
    for child in site.runs_dir.iterdir():
        os.rename(child, site.runs_dir.parent / f"held-{child.name}")
    copy_runs(sample, runs_up_to(sample, 2), site.runs_dir)


def _sweep_3_run(sample: GeneratedData, recipe: str) -> str:
    (run,) = [r for r in runs_of_sweep_window(sample, 3) if r.recipe == recipe and r.sweep == 3]
    return run.run_id


def _remember_everything(service: Service) -> None:
    async def go() -> None:
        await service.ingest()
        await service.knowledge.link("mattermost-lts", ISSUE, "marker table lost", "@op:x")
        await service.knowledge.set_verdict("mattermost-lts", Category.UPSTREAM_DEFECT, "postgres image", "@op:x")
        await service.knowledge.mute("mattermost-lts", time.time() + 7 * 86400, "until the fix", "@op:x")

    asyncio.run(go())


@pytest.mark.writes_runs
def test_a_later_red_failing_the_same_way_keeps_link_verdict_and_mute(site: Site, sample: GeneratedData) -> None:
    _site_up_to_sweep_2(site, sample)
    service = Service(site.config)
    _remember_everything(service)
    hits_before = asyncio.run(service.why("mattermost-lts")).known_issues[0].hits

    copy_runs(sample, runs_of_sweep_window(sample, 3), site.runs_dir)
    asyncio.run(service.ingest())
    why = asyncio.run(service.why("mattermost-lts"))
    assert why.run_id == _sweep_3_run(sample, "mattermost-lts")  # the later sweep's run is the current one
    (issue,) = why.known_issues
    new_reds = [r for r in runs_of_sweep_window(sample, 3) if r.recipe == "mattermost-lts" and r.red]
    assert issue.matches_current and issue.hits == hits_before + len(new_reds)  # its isolation rerun too
    assert why.verdict is not None and why.verdict.source is VerdictOrigin.OPERATOR
    assert why.verdict.category is Category.UPSTREAM_DEFECT and why.verdict.by == "@op:x"
    assert why.muted is not None and why.lapsed == []
    assert service.store.knowledge.lapses() == []
    service.close()


@pytest.mark.writes_runs
def test_a_later_red_failing_differently_is_news_and_what_was_recorded_lapses_once(
    site: Site, sample: GeneratedData
) -> None:
    _site_up_to_sweep_2(site, sample)
    service = Service(site.config)
    _remember_everything(service)

    copy_runs(sample, runs_of_sweep_window(sample, 3), site.runs_dir)
    run_id = _sweep_3_run(sample, "mattermost-lts")
    junit = site.runs_dir / run_id / "junit" / "restore__cc-ci__test_restore.xml"
    text = junit.read_text()
    assert "relation &quot;ci_marker&quot; does not exist" in text  # as pytest wrote it
    junit.write_text(text.replace("relation &quot;ci_marker&quot; does not exist", "could not connect to server: db"))
    asyncio.run(service.ingest())

    why = asyncio.run(service.why("mattermost-lts"))
    assert why.run_id == run_id and "could not connect to server" in why.fingerprint
    (issue,) = why.known_issues
    assert not issue.matches_current  # shown, as not matching
    assert why.verdict is not None and why.verdict.source is VerdictOrigin.RULES  # the hand verdict no longer applies
    assert why.muted is None and len(why.lapsed) == 2  # the verdict and the mute, in words
    assert why.state is not None and why.state.value == "need_look"
    lapses = service.store.knowledge.lapses(untold=True)
    assert sorted(lapse.kind for lapse in lapses) == sorted(KnowledgeKind)
    assert {lapse.run_id for lapse in lapses} == {run_id}

    asyncio.run(service.ingest())  # seen again: recorded once
    assert len(service.store.knowledge.lapses()) == 3
    known = asyncio.run(service.knowledge.known())
    assert [i.still_failing for i in known.issues] == [False]
    assert [m.applies for m in known.muted] == [False]
    service.close()


def test_evidence_against_a_verdict_by_hand_is_shown_beside_it_never_flipped(site: Site, sample: GeneratedData) -> None:
    """mumble's isolation rerun of the swept version went green: an operator calling it a recipe defect is
    contradicted, and the answer says so while keeping the operator's verdict."""
    service = Service(site.config)
    asyncio.run(service.ingest())
    asyncio.run(service.knowledge.set_verdict("mumble", Category.RECIPE_DEFECT, "the handshake is broken", "@op:x"))
    why = asyncio.run(service.why("mumble"))
    assert why.verdict is not None and why.verdict.category is Category.RECIPE_DEFECT
    assert why.verdict.source is VerdictOrigin.OPERATOR
    assert why.rules_verdict is not None and why.rules_verdict.category is Category.FLAKE
    green = [r.run_id for r in why.reruns if r.isolated and r.status.value == "green"]
    assert green and any(green[0] in d and "went green" in d for d in why.disagreement)
    assert any("the rules decide flake" in d for d in why.disagreement)
    service.close()
