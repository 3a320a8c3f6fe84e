"""What the reports tell of the operators' memory, on real run dirs: a lapse told once (in whichever report
comes first, never again, also after a restart), and a red report with nothing changed since the previous
one is one line with the whole report in its thread."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

from bot.service import Service
from bot.store.reports import ReportKind
from demo.sample.generate import GeneratedData
from demo.sample.staging import copy_runs, runs_of_sweep_window
from tests import rawdb
from tests.conftest import Site
from tests.test_memory import ISSUE, _remember_everything, _site_up_to_sweep_2, _sweep_3_run
from tests.test_reports import ROOM, _reporter

LAPSED = (
    f"mattermost-lts fails differently now: the link to {ISSUE} no longer matches; "
    "the verdict upstream-defect given by hand no longer applies; the mute lapsed"
)


def _bodies(service: Service) -> list[str]:
    return [str(json.loads(r[0]).get("body", "")) for r in rawdb.rows(service.store, "SELECT content_json FROM outbox")]


def _fail_differently(site: Site, sample: GeneratedData) -> str:
    """cc-ci writes sweep 3, where mattermost-lts's restore fails another way than the one recorded."""
    copy_runs(sample, runs_of_sweep_window(sample, 3), site.runs_dir)
    run_id = _sweep_3_run(sample, "mattermost-lts")
    junit = site.runs_dir / run_id / "junit" / "restore__cc-ci__test_restore.xml"
    text = junit.read_text()
    junit.write_text(text.replace("relation &quot;ci_marker&quot; does not exist", "could not connect to server: db"))
    return run_id


@pytest.mark.writes_runs
def test_a_lapse_is_told_once_in_the_next_summary_and_never_again_after_a_restart(
    site: Site, sample: GeneratedData
) -> None:
    _site_up_to_sweep_2(site, sample)
    service = Service(site.config)
    reporter = _reporter(site, service)
    asyncio.run(reporter.tick())  # a new bot: sweeps 1-2 are its baseline
    _remember_everything(service)
    _fail_differently(site, sample)
    asyncio.run(reporter.tick())

    (summary,) = [b for b in _bodies(service) if b.startswith("Sweep ")]
    headline = summary.split("\n\n")[0]
    assert LAPSED in headline.splitlines()  # one line, in the headline the room reads
    assert service.store.knowledge.lapses(untold=True) == []
    assert all(lapse.told_at is not None for lapse in service.store.knowledge.lapses())
    service.close()

    again = Service(site.config)  # restarted: the next red report does not tell it again
    later = _reporter(site, again, cron="0 7 * * *")
    now = datetime(2026, 11, 27, 9, 30, tzinfo=UTC).timestamp()
    later._post_red_report([ROOM], now)
    with rawdb.writing(again.store) as c:
        c.execute("UPDATE reports SET slot = ? WHERE kind = ?", (now - 86_400, ReportKind.RED.value))
    assert later._post_red_report([ROOM], now) is True
    (report,) = [b for b in _bodies(again) if b.startswith("Red report")]
    assert "mattermost-lts" in report and "fails differently" not in report
    assert sum("fails differently" in b for b in _bodies(again)) == 1
    again.close()


@pytest.mark.writes_runs
def test_a_lapse_the_red_report_told_first_is_not_told_by_the_summary(site: Site, sample: GeneratedData) -> None:
    _site_up_to_sweep_2(site, sample)
    service = Service(site.config)
    reporter = _reporter(site, service, cron="0 7 * * *")
    asyncio.run(reporter.tick())
    _remember_everything(service)
    _fail_differently(site, sample)
    asyncio.run(service.ingest())  # the lapses are recorded; the summary is not composed yet

    now = datetime(2026, 11, 27, 7, 0, 5, tzinfo=UTC).timestamp()
    with rawdb.writing(service.store) as c:  # the last red report was yesterday's
        c.execute("UPDATE reports SET slot = ? WHERE kind = ?", (now - 86_400, ReportKind.RED.value))
    assert reporter._post_red_report([ROOM], now) is True
    (report,) = [b for b in _bodies(service) if b.startswith("Red report")]
    assert LAPSED in report.splitlines()[1]  # right under its title line
    asyncio.run(reporter.tick())
    (summary,) = [b for b in _bodies(service) if b.startswith("Sweep ")]
    assert "fails differently" not in summary
    assert service.store.knowledge.lapses(untold=True) == []
    service.close()


def _outbox(service: Service) -> list[tuple[str, dict[str, object]]]:
    rows = rawdb.rows(service.store, "SELECT txn_id, content_json FROM outbox ORDER BY id")
    return [(str(r[0]), json.loads(r[1])) for r in rows]


def test_a_red_report_with_nothing_changed_is_one_line_with_the_whole_report_in_its_thread(site: Site) -> None:
    service = Service(site.config)
    asyncio.run(service.ingest())
    reporter = _reporter(site, service, cron="0 7 * * *")
    friday = datetime(2026, 11, 27, 7, 0, 5, tzinfo=UTC).timestamp()  # a Friday, just after its slot
    reporter._post_red_report([ROOM], friday - 86_400)  # a new bot: its baseline
    assert reporter._post_red_report([ROOM], friday) is True
    first = [c for _t, c in _outbox(service)]
    (full,) = first
    assert str(full["body"]).startswith("Red report for 2026-11-27T07:00:00Z")

    assert reporter._post_red_report([ROOM], friday + 86_400) is True  # Saturday: nothing changed
    root, reply = _outbox(service)[1:]
    counts = service.store.reports
    assert counts.last_red_report() is not None
    reds = str(full["body"]).count("\n✗ ")
    assert root[1]["body"] == f"Red report: no change since Friday: {reds} red, {reds} need a look"
    relation = reply[1]["m.relates_to"]
    assert isinstance(relation, dict) and relation["rel_type"] == "m.thread"
    assert relation["event_id"] == f"txn:{root[0]}"  # the outbox fills in the root's event id when sending
    whole = str(full["body"]).replace("2026-11-27T07", "2026-11-28T07", 1)
    assert str(reply[1]["body"]) == whole  # the whole list, in the thread

    async def link() -> None:
        await service.knowledge.link("mattermost-lts", ISSUE, "marker table lost", "@op:x")

    asyncio.run(link())  # a change of link: Sunday's report is whole again
    assert reporter._post_red_report([ROOM], friday + 2 * 86_400) is True
    (sunday,) = _outbox(service)[3:]
    assert str(sunday[1]["body"]).startswith("Red report for 2026-11-29T07:00:00Z")
    assert f"mattermost-lts: {ISSUE} — marker table lost" in str(sunday[1]["body"])
    service.close()
