"""Sweep summaries and red reports without chat: real run dirs, a real store, the real outbox queue.

The chat path (real Synapse, the bot as a process) is in test_reports_matrix.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from aiohttp.web import Application
from msgspec.structs import replace

from bot.config import ConfigError, ReportsConfig, parse_config
from bot.model.records import Category, NextStep, RunStatus, Strength, Verdict, VerdictOrigin
from bot.model.reports import Change, ReportRow, SweepReport
from bot.render import reports as render
from bot.reports import autorerun
from bot.reports.autorerun import auto_rerun_candidates
from bot.reports.compose import build_sweep_report
from bot.reports.watch import SweepState, due_summary
from bot.reruns.preflight import Node
from bot.runtime.report_loop import Reporter
from bot.schedule import CronError, latest_slot, parse_cron
from bot.service import Service
from bot.store.chat import Outgoing, new_txn_id, ref
from bot.store.reports import ReportKind
from bot.web.hooks import SIGNATURE_HEADER, hook_routes, sign
from demo.sample.generate import GeneratedData
from demo.sample.staging import copy_runs, expected_moves, runs_of_sweep_window, runs_up_to
from tests import rawdb
from tests.conftest import Site

ROOM = "!ops:example.org"

# --- schedule ---------------------------------------------------------------------------------------


def test_cron_weekdays_count_from_sunday_as_in_crontab() -> None:
    friday = datetime(2026, 11, 27, tzinfo=UTC)
    for expr, weekday in (("0 7 * * 0", "Sun"), ("0 7 * * 7", "Sun"), ("0 7 * * 1", "Mon"), ("0 7 * * 6", "Sat")):
        fire = parse_cron(expr, "UTC").get_next_fire_time(None, friday)
        assert fire is not None and fire.strftime("%a %H:%M") == f"{weekday} 07:00", expr
    weekdays = parse_cron("30 6 * * 1-5", "UTC")
    fire = weekdays.get_next_fire_time(None, datetime(2026, 11, 28, tzinfo=UTC))  # a Saturday
    assert fire is not None and fire.strftime("%a %H:%M") == "Mon 06:30"


def test_cron_timezone_and_seconds_field() -> None:
    berlin = parse_cron("0 7 * * *", "Europe/Berlin")
    fire = berlin.get_next_fire_time(None, datetime(2026, 11, 27, tzinfo=UTC))
    assert fire is not None and fire.astimezone(UTC).hour == 6  # 07:00 CET is 06:00 UTC in November
    every3 = parse_cron("*/3 * * * * *", "UTC")
    fire = every3.get_next_fire_time(None, datetime(2026, 11, 27, 0, 0, 1, tzinfo=UTC))
    assert fire is not None and fire.second == 3


@pytest.mark.parametrize("expr", ["0 7 * *", "61 7 * * *", "0 7 * * 8", "0 7 * * mon-sun-x", "a b c d e"])
def test_bad_cron_lines_are_refused_with_a_reason(expr: str) -> None:
    with pytest.raises(CronError):
        parse_cron(expr, "UTC")


def test_latest_slot_is_the_last_fire_time_missed() -> None:
    daily = parse_cron("0 7 * * *", "UTC")
    now = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    assert latest_slot(daily, now - timedelta(days=3), now) == datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
    assert latest_slot(daily, datetime(2026, 11, 27, 7, 0, tzinfo=UTC), now) is None  # already sent
    monthly = parse_cron("0 7 1 * *", "UTC")
    assert latest_slot(monthly, now - timedelta(days=90), now) == datetime(2026, 11, 1, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("reports", "expected"),
    [
        ({"cron": "0 7 * *"}, "reports.cron: expected 5 fields"),
        ({"timezone": "Mars/Olympus"}, "reports.timezone: expected an IANA time zone"),
        ({"auto_rerun": "yes"}, "reports.auto_rerun: expected true or false"),
        ({"settled_confidence": 2}, "reports.settled_confidence: expected a number from 0 to 1"),
        ({"poll_s": 0}, "reports.poll_s: expected a number of seconds > 0"),
        ({"webhook_secret": "hunter2"}, "reports.webhook_secret: secrets are not read from the file"),
    ],
)
def test_report_settings_are_checked(reports: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        parse_config({"reports": reports})


def test_the_old_scan_interval_key_says_where_it_went() -> None:
    with pytest.raises(ConfigError, match=r"renamed to reports\.poll_s"):
        parse_config({"ccci": {"scan_interval_s": 60}})


# --- what a summary says ------------------------------------------------------------------------------


def test_summary_moves_match_the_generators_ground_truth(site: Site, sample: GeneratedData) -> None:
    service = Service(site.config)
    asyncio.run(service.ingest())
    sweeps = site.store.sweeps.ids()
    for n in range(2, len(sweeps) + 1):
        report = build_sweep_report(site.store, site.config, sweeps[n - 1], service.verdicts)
        newly_red, newly_green = expected_moves(sample, n)
        assert {r.recipe for r in report.of(Change.NEWLY_RED)} == newly_red, n
        assert {r.recipe for r in report.of(Change.NEWLY_GREEN)} == newly_green, n
        assert report.previous_sweep_id == sweeps[n - 2]
        for row in report.red:
            assert row.red_sweeps >= 1 and row.red_since is not None
            assert row.log_url is not None and row.log_url.endswith(f"/{row.run_id}/run.log")
            if row.failures:
                assert row.junit_url is not None and "/junit/" in row.junit_url
    service.close()


def test_summary_counts_grid_and_flips(site: Site, sample: GeneratedData) -> None:
    service = Service(site.config)
    asyncio.run(service.ingest())
    last = site.store.sweeps.ids()[-1]
    report = build_sweep_report(site.store, site.config, last, service.verdicts)
    truth = {r.recipe: r for r in sample.runs if r.sweep == 3}
    assert report.counts["red"] + report.counts["unverified"] == sum(1 for r in truth.values() if r.red)
    assert report.counts["total"] == len(truth)
    keycloak = next(r for r in report.rows if r.recipe == "keycloak")  # green, red, green over three sweeps
    assert keycloak.flips == 2
    shown = render.details(report, 10)
    assert "flipping: 2 red/green flips" not in shown.text  # keycloak is green now: only red rows get notes
    assert shown.html.count("data-mx-bg-color") == sum(len(r.tiers) for r in report.rows)
    assert "<table>" in shown.html and "install" in shown.html
    head = render.headline(report)
    assert head.text.startswith(f"Sweep {last} finished")
    lines = head.text.splitlines()
    assert lines[1].startswith("Need a look: ")  # the reds by what they need, right under the counts
    groups = {line.split(": ", 1)[0] for line in lines[1:]}
    assert {"Need a look", "No action", "Newly green"} <= groups and "Newly red" not in groups
    for action, rows in report.by_action().items():
        assert all(f" {r.recipe} (" in head.text or f"{r.recipe}: " in head.text for r in rows), action
    service.close()


# --- when a sweep counts as finished ------------------------------------------------------------------


def _state(sid: str, runs: tuple[str, ...], last: float) -> SweepState:
    return SweepState(sid, runs, last, last)


def test_due_summary_waits_for_quiet_and_for_nothing_in_flight() -> None:
    s1, s2 = _state("sweep-1", ("a", "b"), 1000.0), _state("sweep-2", ("c", "d"), 5000.0)
    kw = {"quiet_s": 600.0, "first_start": False}
    assert due_summary([s1, s2], {"sweep-1"}, set(), now=5100.0, in_flight=False, **kw).post is None  # not quiet
    assert due_summary([s1, s2], {"sweep-1"}, set(), now=9000.0, in_flight=True, **kw).post is None  # in flight
    assert due_summary([s1, s2], {"sweep-1"}, set(), now=9000.0, in_flight=False, **kw).post == s2


def test_due_summary_baselines_a_new_bots_history_and_supersedes_missed_sweeps() -> None:
    s1, s2, s3 = (_state(f"sweep-{i}", (f"r{i}",), 1000.0 * i) for i in (1, 2, 3))
    first = due_summary([s1, s2, s3], set(), set(), now=9000.0, quiet_s=600, in_flight=False, first_start=True)
    assert first.post is None and [s.sweep_id for s, why in first.silence if why is ReportKind.BASELINE] == [
        "sweep-1",
        "sweep-2",
        "sweep-3",
    ]
    later = due_summary([s1, s2, s3], {"sweep-1"}, set(), now=9000.0, quiet_s=600, in_flight=False, first_start=False)
    assert later.post == s3 and later.silence == [(s2, ReportKind.SUPERSEDED)]


def test_due_summary_never_summarises_runs_twice_under_a_new_sweep_id() -> None:
    moved = _state("sweep-1b", ("a", "b"), 1000.0)  # same runs, re-keyed after their files were re-written
    decision = due_summary([moved], {"sweep-1"}, {"a"}, now=9000.0, quiet_s=600, in_flight=False, first_start=False)
    assert decision.post is None and decision.silence == [(moved, ReportKind.SUPERSEDED)]


# --- posting once -----------------------------------------------------------------------------------


def _reporter(site: Site, service: Service, **settings: object) -> Reporter:
    config = replace(site.config, reports=replace(ReportsConfig(), quiet_s=0.0, **settings))  # type: ignore[arg-type]
    service.config = config
    node = Node(config.ccci.active_dir, None, ())
    return Reporter(service, node, lambda: [ROOM], lambda: None, asyncio.Event())


def _sweep_messages(service: Service) -> list[dict[str, object]]:
    rows = rawdb.rows(service.store, "SELECT content_json FROM outbox ORDER BY id")
    found = [json.loads(r[0]) for r in rows]
    return [c for c in found if str(c.get("body", "")).startswith("Sweep ")]


def _empty_site(site: Site) -> None:
    for child in site.runs_dir.iterdir():
        os.rename(child, site.runs_dir.parent / f"held-{child.name}")


@pytest.mark.writes_runs
def test_a_sweep_written_after_the_baseline_is_summarised_exactly_once(site: Site, sample: GeneratedData) -> None:
    _empty_site(site)
    copy_runs(sample, runs_up_to(sample, 2), site.runs_dir)
    service = Service(site.config)
    reporter = _reporter(site, service)

    asyncio.run(reporter.tick())
    assert _sweep_messages(service) == []  # a new bot's history is a baseline, not news
    marker = site.config.ccci.active_dir / "outline.ci.example.org"
    marker.write_text("")  # cc-ci: a deploy is in flight
    copy_runs(sample, runs_of_sweep_window(sample, 3), site.runs_dir)
    asyncio.run(reporter.tick())
    assert _sweep_messages(service) == []  # in flight: not finished yet
    marker.unlink()
    asyncio.run(reporter.tick())
    (summary,) = _sweep_messages(service)
    newly_red, newly_green = expected_moves(sample, 3)
    body = str(summary["body"])
    headline = body.split("\n\n")[0]
    assert newly_red and all(f" {name} (" in headline for name in newly_red)
    assert f"Newly green: {', '.join(sorted(newly_green))}" in body
    assert "late" not in body.splitlines()[0]

    # the run's files re-written (cc-ci re-ran its finaliser): re-read, but no second summary
    run_dir = site.runs_dir / runs_of_sweep_window(sample, 3)[0].run_id
    results = run_dir / "results.json"
    results.write_text(results.read_text() + "\n")
    later = time.time() + 5
    os.utime(results, (later, later))
    asyncio.run(reporter.tick())
    assert len(_sweep_messages(service)) == 1
    # a restarted bot (new reporter, same store) does not post it again either
    asyncio.run(_reporter(site, service).tick())
    assert len(_sweep_messages(service)) == 1
    service.close()


@pytest.mark.writes_runs
def test_a_webhook_during_a_scan_causes_another_scan_at_once(site: Site, sample: GeneratedData) -> None:
    """cc-ci's hook can arrive while a tick is still busy (after its scan); it must not wait a poll."""
    _empty_site(site)
    copy_runs(sample, runs_up_to(sample, 2), site.runs_dir)
    service = Service(site.config)
    service.config = replace(site.config, reports=replace(ReportsConfig(), quiet_s=0.0, poll_s=3600.0))
    stop = asyncio.Event()
    hooked: list[list[str]] = []

    async def scenario() -> None:
        posted = asyncio.Event()
        node = Node(site.config.ccci.active_dir, None, ())

        async def mid_tick(ingested: list[str]) -> None:
            if not hooked:  # the first tick, after its scan: cc-ci writes sweep 3 and calls the hook
                copy_runs(sample, runs_of_sweep_window(sample, 3), site.runs_dir)
                reporter.wake.set()
            hooked.append(ingested)

        reporter = Reporter(service, node, lambda: [ROOM], posted.set, stop, on_ingested=mid_tick)
        loop = asyncio.create_task(reporter.run_forever())
        try:
            await asyncio.wait_for(posted.wait(), timeout=60)  # a bound on failure, not a wait for success
        finally:
            stop.set()
            await loop

    asyncio.run(scenario())
    assert len(hooked) == 2
    (summary,) = _sweep_messages(service)
    assert set(hooked[1]) == {r.run_id for r in runs_of_sweep_window(sample, 3)}
    assert str(summary["body"]).startswith("Sweep ")
    service.close()


@pytest.mark.writes_runs
def test_a_sweep_that_finished_while_the_bot_was_down_is_summarised_late(site: Site, sample: GeneratedData) -> None:
    _empty_site(site)
    copy_runs(sample, runs_up_to(sample, 1), site.runs_dir)
    service = Service(site.config)
    asyncio.run(_reporter(site, service).tick())  # the bot's first life: baseline
    copy_runs(sample, runs_of_sweep_window(sample, 2), site.runs_dir)  # written while it was down
    asyncio.run(_reporter(site, service).tick())  # a restarted bot
    (summary,) = _sweep_messages(service)
    assert "(late: the bot was down when it finished)" in str(summary["body"]).splitlines()[0]
    service.close()


@pytest.mark.writes_runs
def test_many_reds_post_a_headline_with_the_details_in_its_thread(site: Site, sample: GeneratedData) -> None:
    _empty_site(site)
    copy_runs(sample, runs_up_to(sample, 2), site.runs_dir)
    service = Service(site.config)
    reporter = _reporter(site, service, thread_over=1)
    asyncio.run(reporter.tick())
    copy_runs(sample, runs_of_sweep_window(sample, 3), site.runs_dir)
    asyncio.run(reporter.tick())
    rows = rawdb.rows(service.store, "SELECT txn_id, content_json FROM outbox ORDER BY id")
    (head_txn, head), (_, details) = ((r[0], json.loads(r[1])) for r in rows[-2:])
    assert str(head["body"]).startswith("Sweep ") and "install" not in str(head["body"])
    relates = details["m.relates_to"]
    assert relates["rel_type"] == "m.thread" and relates["event_id"] == ref(head_txn)
    assert "install" in str(details["body"])  # the grid
    service.close()


def test_a_red_report_is_sent_once_per_slot_and_late_after_downtime(site: Site) -> None:
    service = Service(site.config)
    asyncio.run(service.ingest())
    reporter = _reporter(site, service, cron="0 7 * * *")
    now = datetime(2026, 11, 27, 9, 30, tzinfo=UTC).timestamp()
    assert reporter._post_red_report([ROOM], now) is False  # a new bot: baseline, no report
    store = service.store.reports
    with rawdb.writing(service.store) as c:  # the bot was last up yesterday morning
        c.execute("UPDATE reports SET slot = ? WHERE kind = ?", (now - 86_400, ReportKind.RED.value))
    assert reporter._post_red_report([ROOM], now) is True
    assert reporter._post_red_report([ROOM], now + 60) is False  # never twice for a slot
    rows = rawdb.rows(service.store, "SELECT content_json FROM outbox ORDER BY id")
    (report,) = [json.loads(r[0]) for r in rows if "Red report" in r[0]]
    assert "Red report for 2026-11-27T07:00:00Z (late: the bot was down at the scheduled time)" in report["body"]
    reds = [r for r in service.store.runs.recipes() if asyncio.run(service.why(r)).status is RunStatus.RED]
    for recipe in reds:
        assert f"✗ {recipe} " in report["body"]
    assert store.last_slot() == datetime(2026, 11, 27, 7, 0, tzinfo=UTC).timestamp()
    service.close()


# --- the outbox fills in event ids of queued messages -------------------------------------------------


def test_references_to_queued_messages_are_resolved_when_sending(site: Site) -> None:
    chat = site.store.chat
    root = new_txn_id()
    chat.enqueue([Outgoing(ROOM, "m.room.message", {"body": "head"}, root)])
    reply = {"body": "x", "m.relates_to": {"rel_type": "m.thread", "event_id": ref(root)}}
    edit = {"body": "* y", "m.relates_to": {"rel_type": "m.replace", "event_id": ref(root)}}
    assert chat.resolve_refs(edit) is None  # nothing sent yet: an edit of it has nothing to edit
    (head,) = chat.pending(1)
    chat.mark_sent(head.id, "$root-event")
    resolved = chat.resolve_refs(reply)
    assert resolved is not None and resolved["m.relates_to"]["event_id"] == "$root-event"
    edited = chat.resolve_refs(edit)
    assert edited is not None and edited["m.relates_to"]["event_id"] == "$root-event"


# --- the webhook ------------------------------------------------------------------------------------


def test_webhook_refuses_bad_signatures_and_wakes_the_scan_on_good_ones() -> None:
    woken: list[bool] = []

    async def scenario() -> None:
        app = Application()
        app.add_routes(hook_routes("s3cret", lambda: woken.append(True)))
        async with TestClient(TestServer(app)) as client:
            body = b'{"run_id": "760"}'
            unsigned = await client.post("/hooks/run-finished", data=body)
            assert unsigned.status == 401 and "X-Ccci-Signature" in (await unsigned.json())["error"]
            forged = await client.post(
                "/hooks/run-finished", data=body, headers={SIGNATURE_HEADER: sign("wrong", body)}
            )
            assert forged.status == 401
            tampered = await client.post(
                "/hooks/run-finished", data=body + b" ", headers={SIGNATURE_HEADER: sign("s3cret", body)}
            )
            assert tampered.status == 401
            assert woken == []
            huge = b"x" * (65 * 1024)
            too_big = await client.post(
                "/hooks/run-finished", data=huge, headers={SIGNATURE_HEADER: sign("s3cret", huge)}
            )
            assert too_big.status == 413 and woken == []
            good = await client.post("/hooks/run-finished", data=body, headers={SIGNATURE_HEADER: sign("s3cret", body)})
            assert good.status == 202 and woken == [True]

    asyncio.run(scenario())


def test_verdict_change_line_names_before_and_after_in_words() -> None:
    from bot.model.records import Strength, Verdict

    before = Verdict(Category.UNKNOWN, 0.3, "", strength=Strength.NOTHING)
    after = Verdict(Category.FLAKE, 0.9, "green alone", strength=Strength.RERUNS)
    shown = render.verdict_changes("sweep-x", [render.VerdictChange("outline", before, after)])
    assert "outline: unknown (nothing decides it yet) → flake (settled by isolation reruns) — green alone" in shown.text
    assert "%" not in shown.text and "%" not in shown.html  # the number stays in JSON


def test_red_report_says_all_green_briefly(tmp_path: Path) -> None:
    from bot.model.reports import RedReport

    shown = render.red_report(RedReport(slot=0.0, late=False, recipes=12, rows=[]))
    assert shown.text == "Red report for 1970-01-01T00:00:00Z: all green (12 recipes)."


def test_report_command_prints_what_the_room_would_get(
    site: Site, sample: GeneratedData, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main as cli

    flags = [
        "--runs-dir",
        str(site.runs_dir),
        "--warm-dir",
        str(site.warm_dir),
        "--data-dir",
        str(site.config.data_dir),
    ]
    assert cli(["report", "sweep", "--json", *flags]) == 0
    shown = json.loads(capsys.readouterr().out)
    newly_red, newly_green = expected_moves(sample, 3)
    assert set(shown["newly_red"]) == newly_red and set(shown["newly_green"]) == newly_green
    verdicts = [r["verdict"] for r in shown["recipes"] if r["verdict"] is not None]
    shape = {"category", "confidence", "reason", "kb_version", "settle", "rule", "strength", "source", "by"}
    assert verdicts and all(set(v) == shape for v in verdicts)
    assert all(v["confidence"] == round(v["confidence"], 3) for v in verdicts)  # the shape `why --json` has
    failures = [f for r in shown["recipes"] for f in r["failures"]]
    assert failures and all(set(f) == {"tier", "source", "test", "message", "junit"} for f in failures)
    assert cli(["report", "red", *flags]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Red report for ") and f"of {len({r.recipe for r in sample.runs})} recipes red" in text
    assert cli(["report", "sweep", "sweep-1999", *flags]) == 2
    assert "unknown sweep 'sweep-1999'" in capsys.readouterr().err
    assert site.store.reports.counts() == {}  # printing posts nothing


# --- which reds the bot reruns by itself -------------------------------------------------------------


def _row(recipe: str, change: Change, verdict: Verdict | None, unverified: bool = False) -> ReportRow:
    return ReportRow(
        recipe, "1.0.0", f"run-{recipe}", RunStatus.RED, unverified, change, None, 1, 0, {}, [], verdict, None, None
    )


def test_automatic_reruns_fit_the_verdict() -> None:
    """Unsure newly red reds first; then every red whose run tested nothing about the recipe (a sure infra
    verdict is no reason to leave it untested) — red two sweeps running before newly red ones; never a red that
    fails every time with its cause open, nor a settled one, nor one a rerun already tested."""
    unsure = Verdict(Category.UNKNOWN, 0.3, "", settle=NextStep.ISOLATION_RERUN, strength=Strength.NOTHING)
    infra = Verdict(Category.INFRA, 0.9, "", strength=Strength.RUN_RECORD)
    passed_alone = Verdict(Category.INFRA, 0.9, "", rule="untested_green_alone", strength=Strength.RERUNS)
    undecided = Verdict(Category.UNKNOWN, 0.3, "", settle=NextStep.FIND_CAUSE, strength=Strength.REPRODUCED)
    sure = Verdict(Category.STALE_TEST, 0.95, "", strength=Strength.CHECKED)
    by_hand = Verdict(Category.INFRA, 1.0, "", source=VerdictOrigin.OPERATOR, by="@alice:x")
    rows = [
        _row("keycloak", Change.NEWLY_RED, infra),  # untested, first time
        _row("gitea", Change.STILL_RED, infra),  # untested again
        _row("outline", Change.NEWLY_RED, unsure),
        _row("nextcloud", Change.STILL_RED, None, unverified=True),  # untested again, no verdict yet
        _row("hedgedoc", Change.FIRST, None, unverified=True),  # untested, new
        _row("bonfire", Change.NEWLY_RED, passed_alone, unverified=True),  # an isolation rerun tested it
        _row("lasuite-docs", Change.STILL_RED, by_hand, unverified=True),  # a hand verdict: the run's own flag
        _row("wordpress", Change.NEWLY_RED, undecided),  # a rerun adds nothing
        _row("discourse", Change.NEWLY_RED, sure),
        _row("mumble", Change.STILL_RED, unsure),  # unsure, but not new: as before
        _row("immich", Change.FIRST, None),
    ]
    report = SweepReport("s3", None, None, "s2", rows, [], [])
    every = ["outline", "immich", "gitea", "nextcloud", "lasuite-docs", "keycloak", "hedgedoc"]
    assert auto_rerun_candidates(report, ReportsConfig()) == every[:5]  # auto_rerun_max: 5 per sweep
    assert auto_rerun_candidates(report, ReportsConfig(auto_rerun_max=10)) == every
    assert auto_rerun_candidates(report, ReportsConfig(auto_rerun_max=3)) == ["outline", "immich", "gitea"]
    assert auto_rerun_candidates(report, ReportsConfig(auto_rerun=False)) == []
    untested = ["keycloak", "gitea", "nextcloud", "hedgedoc", "lasuite-docs"]
    assert [r.recipe for r in rows if autorerun.tested_nothing(r)] == untested  # not bonfire: its rerun passed


def test_a_first_red_that_tested_nothing_is_rerun_after_its_sweep(site: Site, sample: GeneratedData) -> None:
    """The sample's last sweep, from its real run dirs: gitea's run lost its Docker daemon during backup
    (infra by the run's own record) the first sweep it is red, and it is rerun with outline (unsure) — not
    left to the next sweep; the reds that are settled or red again with a verdict are not."""
    service = Service(site.config)
    asyncio.run(service.ingest())
    report = build_sweep_report(site.store, site.config, site.store.sweeps.ids()[-1], service.verdicts)
    rows = {r.recipe: r for r in report.red}
    gitea = rows["gitea"]
    assert gitea.change is Change.NEWLY_RED and gitea.verdict is not None and gitea.verdict.rule == "structural"
    assert [r for r, row in rows.items() if autorerun.tested_nothing(row)] == ["gitea"]
    assert auto_rerun_candidates(report, ReportsConfig()) == ["outline", "gitea"]
    assert auto_rerun_candidates(report, ReportsConfig(auto_rerun_max=1)) == ["outline"]  # within the cap
    service.close()
