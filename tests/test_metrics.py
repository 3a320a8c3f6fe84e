"""Metrics: counters count per bot, gauges are read from the store at scrape time."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from bot.artifacts.timefmt import parse_time
from bot.model.knowledge import Fingerprint
from bot.model.records import Category, ParsedRun, RunKind, RunStatus, Verdict
from bot.model.reruns import RerunResult
from bot.store import Store
from bot.store.chat import Outgoing
from bot.store.reports import ReportKind
from bot.store.status_run import target_run
from bot.web.metrics import MAX_COMMAND_LABELS, Metrics
from tests import rawdb

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(metrics: Metrics) -> Samples:
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain")
    found: Samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def by_label(found: Samples, name: str, label: str) -> dict[str, float]:
    return {dict(labels)[label]: value for (n, labels), value in found.items() if n == name}


def parsed(run_id: str, recipe: str, status: RunStatus, finished: float | None) -> ParsedRun:
    return ParsedRun(
        run_id=run_id,
        recipe=recipe,
        version="1.0.0",
        pr=None,
        ref=None,
        started=(finished or 1000.0) - 10,
        finished=finished,
        tiers=[],
        tests=[],
        failures=[],
        status=status,
        unverified=False,
        derived=False,
        directory=f"/runs/{run_id}",
        fingerprint="f",
    )


RED_, GREEN = RunStatus.RED, RunStatus.GREEN
SW, ISO, PR = RunKind.SWEEP, RunKind.ISOLATION, RunKind.PR
# (run_id, recipe, status, finished, kind, verdict category or None)
RUNS = [
    ("a1", "alpha", RED_, 100.0, SW, "flake"),  # superseded by a2: its verdict no longer counts
    ("a2", "alpha", RED_, 200.0, SW, "infra"),
    ("b1", "beta", RED_, 100.0, SW, "stale-test"),
    ("b2", "beta", GREEN, 300.0, SW, None),  # green now: no verdict counts
    ("c1", "gamma", RED_, 100.0, SW, "recipe-defect"),
    ("c2", "gamma", GREEN, 400.0, ISO, None),  # a sweep run decides while there is one
    ("d1", "delta", RED_, 50.0, ISO, "upstream-defect"),
    ("d2", "delta", RED_, 60.0, PR, "flake"),  # PR runs never decide
    ("e1", "epsilon", RED_, 500.0, SW, "unknown"),
    ("e2", "epsilon", GREEN, None, SW, None),  # unfinished sorts last, as in Store.runs_of
    ("f1", "zeta", RED_, 100.0, SW, "novel"),  # a category this bot does not know (a newer one wrote it)
]


def fill_runs(store: Store) -> None:
    store.ingest.save_runs(
        [parsed(run_id, recipe, status, finished) for run_id, recipe, status, finished, _, _ in RUNS]
    )
    store.ingest.set_kinds({run_id: (kind, "s1" if kind is SW else None) for run_id, _, _, _, kind, _ in RUNS})
    for run_id, recipe, _, _, _, category in RUNS:
        if category is not None:
            store.verdicts.save(run_id, recipe, Verdict(Category.parse(category), 0.9, "because"), "kb1", [])
    # As a newer bot with a category this one lacks would have stored it:
    with rawdb.writing(store) as conn:
        conn.execute("UPDATE verdicts SET category = 'novel' WHERE run_id = 'f1'")


def test_verdict_gauge_counts_each_recipes_current_red_run_as_target_run_picks_it(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    fill_runs(store)

    found = by_label(samples(Metrics(store)), "ccci_verdicts", "category")

    assert found == {
        "flake": 0,
        "recipe-defect": 1,
        "stale-test": 0,
        "upstream-defect": 1,
        "infra": 1,
        "unknown": 1,  # zeta's "novel": the label set stays the enum's, whatever the database holds
    }
    # The gauge must agree with target_run over every run, the rule that decides what "current" means.
    expected: dict[str, int] = {}
    for recipe in store.runs.recipes():
        target = target_run(store.runs.runs_of(recipe))
        stored = store.verdicts.get(target.run_id) if target is not None and target.status is RunStatus.RED else None
        if stored is not None:
            expected[stored.verdict.category] = expected.get(stored.verdict.category, 0) + 1
    assert {k: v for k, v in found.items() if v} == expected


def test_gauges_of_an_empty_store_and_runs_known(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    metrics = Metrics(store)
    empty = samples(metrics)
    assert empty[("ccci_runs_known", ())] == 0
    assert set(by_label(empty, "ccci_verdicts", "category").values()) == {0}
    assert by_label(empty, "ccci_reports_posted", "kind") == {"sweep": 0, "red": 0}

    fill_runs(store)
    assert samples(metrics)[("ccci_runs_known", ())] == len(RUNS)


def test_reports_posted_counts_sweep_and_red_reports_that_queued_messages(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    reports = store.reports

    def message() -> list[tuple[str, Outgoing]]:
        return [("headline", Outgoing("!room:x", "m.room.message", {"body": "hi"}))]

    reports.record("sweep:s1", ReportKind.SWEEP, sweep_id="s1", messages=message())
    reports.record("sweep:s0", ReportKind.BASELINE, sweep_id="s0")
    reports.record("sweep:s-1", ReportKind.SUPERSEDED, sweep_id="s-1")
    reports.record("red:1", ReportKind.RED, slot=1.0)  # a new bot's first slot: not owed, nothing posted
    reports.record("red:2", ReportKind.RED, slot=2.0, late=True, body={"skipped": True})  # missed too long
    reports.record("red:3", ReportKind.RED, slot=3.0, messages=message())
    reports.record("red:4", ReportKind.RED, slot=4.0, late=True, messages=message())

    found = by_label(samples(Metrics(store)), "ccci_reports_posted", "kind")

    assert found == {"sweep": 1, "red": 2}


@pytest.mark.parametrize("stored", [None, "", "not a time"])
def test_ingest_lag_is_nan_before_the_first_ingest(tmp_path: Path, stored: str | None) -> None:
    store = Store(tmp_path / "db.sqlite3")
    if stored is not None:
        store.meta.set("last_ingest", stored)

    lag = samples(Metrics(store, clock=lambda: 2e9))[("ccci_ingest_lag_seconds", ())]

    assert math.isnan(lag)


def test_ingest_lag_is_read_at_scrape_time(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    now = [0.0]
    metrics = Metrics(store, clock=lambda: now[0])
    store.meta.set("last_ingest", "2026-06-14T03:21:40Z")
    ingested = parse_time("2026-06-14T03:21:40Z")
    assert ingested is not None

    now[0] = ingested + 42.5
    assert samples(metrics)[("ccci_ingest_lag_seconds", ())] == 42.5
    now[0] = ingested + 90
    assert samples(metrics)[("ccci_ingest_lag_seconds", ())] == 90
    store.meta.set("last_ingest", "2026-06-14T03:22:40Z")
    assert samples(metrics)[("ccci_ingest_lag_seconds", ())] == 30
    now[0] = ingested - 5  # the clock stepped back
    assert samples(metrics)[("ccci_ingest_lag_seconds", ())] == 0


def test_counters_count_and_two_bots_do_not_share_them(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    one, two = Metrics(store), Metrics(store)

    assert samples(one)[("ccci_sync_errors_total", ())] == 0
    one.command("why")
    one.command("why")
    one.command("status")
    one.rerun(RerunResult.GREEN)
    one.rerun(RerunResult.GREEN)
    one.rerun(RerunResult.NODE_BUSY)
    one.sync_error()
    two.command("why")

    first, second = samples(one), samples(two)
    assert by_label(first, "ccci_commands_total", "command") == {"why": 2, "status": 1}
    assert by_label(first, "ccci_reruns_total", "outcome") == {"green": 2, "node-busy": 1}
    assert first[("ccci_sync_errors_total", ())] == 1
    assert by_label(second, "ccci_commands_total", "command") == {"why": 1}
    assert by_label(second, "ccci_reruns_total", "outcome") == {}
    assert second[("ccci_sync_errors_total", ())] == 0
    # Never the process-global registry.
    assert REGISTRY.get_sample_value("ccci_sync_errors_total") is None
    assert REGISTRY.get_sample_value("ccci_runs_known") is None


def test_command_names_past_the_cap_count_as_other(tmp_path: Path) -> None:
    metrics = Metrics(Store(tmp_path / "db.sqlite3"))
    for i in range(MAX_COMMAND_LABELS):
        metrics.command(f"c{i}")
    metrics.command("c0")  # a known name keeps its own label
    metrics.command("late-1")
    metrics.command("late-2")

    found = by_label(samples(metrics), "ccci_commands_total", "command")

    assert len(found) == MAX_COMMAND_LABELS + 1
    assert found["c0"] == 2
    assert found["other"] == 2
    assert "late-1" not in found


def test_reds_gauge_counts_current_reds_by_where_they_stand_with_the_operators(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    fill_runs(store)
    metrics = Metrics(store, clock=lambda: 1000.0)
    # current reds: alpha (a2), delta (d1), gamma (c1), zeta (f1); nobody has looked at any yet
    assert by_label(samples(metrics), "ccci_reds", "state") == {"need_look": 4, "known": 0, "muted": 0}
    failure = Fingerprint("", "", "")  # these runs have no failing test: the empty fingerprint
    store.knowledge.link("alpha", failure, "https://git.example/a/1", "", "@op:x", "a2", 10.0)
    store.knowledge.set_verdict("delta", failure, Category.INFRA, "", "@op:x", "d1", 10.0)
    store.knowledge.mute("gamma", failure, 2000.0, "", "@op:x", "c1", 10.0)
    store.knowledge.mute("zeta", failure, 500.0, "", "@op:x", "f1", 10.0)  # expired at scrape time: counts again
    assert by_label(samples(metrics), "ccci_reds", "state") == {"need_look": 1, "known": 2, "muted": 1}
