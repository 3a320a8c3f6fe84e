"""Live reruns, and who: the status line while a rerun runs, its live log page, `status`'s queue and
cc-ci's runs in flight, and who started each isolation run in `history` and on the pages."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient, TestServer
from msgspec.structs import replace

from bot.config import WebConfig
from bot.masking import Masker
from bot.model.records import RunKind
from bot.model.reruns import Attempt, AttemptOutcome, RerunState
from bot.render import to_html, to_json, to_text
from bot.reruns.report import progress_line, tiers_in_order
from bot.reruns.runlog import live_log_url, log_file
from bot.service import Service
from bot.store.reruns import Rerun
from bot.web.metrics import Metrics
from bot.web.routes import make_app
from commands import Context
from commands.history import handle as history
from commands.status import handle as status
from tests.conftest import Site

ALICE = "@alice:example.org"


def a_rerun(times: int = 1) -> Rerun:
    return Rerun(7, "mumble", "1.0.0+v1.6.870-0", times, ALICE, "!room", "$ask", RerunState.RUNNING, 0.0)


def test_tiers_are_in_cc_cis_order_with_the_one_running_named() -> None:
    # JUnit file names listed alphabetically, as a directory gives them
    files = ["backup__recipe__test_backup.xml", "install__recipe__test_install.xml", "upgrade__cc-ci__x.xml"]
    assert tiers_in_order(files) == (["install", "upgrade", "backup"], "restore")
    assert tiers_in_order([]) == ([], "install")
    done, now = tiers_in_order([f"{t}__recipe__t.xml" for t in ("custom", "restore", "install", "weird")])
    assert done == ["install", "restore", "custom", "weird"] and now is None


def test_the_status_line_says_tier_elapsed_who_and_where_to_follow() -> None:
    files = ["backup__recipe__a.xml", "install__recipe__b.xml", "upgrade__recipe__c.xml"]
    url = live_log_url("https://bot.example.org/", "manual-ccci-7-1-0a1b2c3d")
    line = progress_line(a_rerun(), 1, files, 125.4, url)
    assert line == (
        "Isolation rerun of mumble 1.0.0+v1.6.870-0: running, now restore (done: install, upgrade, backup); "
        f"2 min 05 s so far; asked by {ALICE} — live log: https://bot.example.org/reruns/manual-ccci-7-1-0a1b2c3d/log"
    )
    first = progress_line(a_rerun(3), 2, [], 0.0, None)
    assert first == (
        f"Isolation rerun of mumble 1.0.0+v1.6.870-0 (run 2 of 3): running, now install; 0 s so far; asked by {ALICE}"
    )
    ended = progress_line(a_rerun(), 1, [*files, "restore__recipe__d.xml"], 3723.0, url, ended=True)
    assert ended == (
        "Isolation rerun of mumble 1.0.0+v1.6.870-0: ended after 62 min 03 s (done: install, upgrade, backup, "
        f"restore); asked by {ALICE} — log: https://bot.example.org/reruns/manual-ccci-7-1-0a1b2c3d/log"
    )
    assert live_log_url(None, "x") is None


def test_the_live_log_page_follows_a_reruns_own_log(site: Site) -> None:
    config = replace(site.config, web=replace(WebConfig(), log_page_lines=50))
    run_id = "manual-ccci-7-1-0a1b2c3d"
    path = log_file(config.data_dir, run_id)
    assert path is not None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"line {n}\n" for n in range(1, 201)))
    assert log_file(config.data_dir, "../state") is None and log_file(config.data_dir, "a/b") is None
    service = Service(config)

    async def scenario() -> None:
        app = make_app(service, Masker(()), Metrics(service.store))
        async with TestClient(TestServer(app)) as client:
            page = await client.get(f"/reruns/{run_id}/log")
            html = await page.text()
            assert page.status == 200, html
            assert "line 200" in html and "line 151" in html and "line 150<" not in html
            assert 'http-equiv="refresh"' in html
            path.write_text(path.read_text() + "line 201\n")  # it grows: the next load shows the new line
            assert "line 201" in await (await client.get(f"/reruns/{run_id}/log")).text()
            assert (await client.get("/reruns/manual-ccci-9-9-ffffffff/log")).status == 404
            assert (await client.get("/reruns/..%2Fccci-bot.sqlite3/log")).status == 404

    try:
        asyncio.run(scenario())
    finally:
        service.close()


def test_status_lists_the_rerun_queue_and_cc_cis_runs_in_flight(site: Site) -> None:
    service = Service(site.config)
    try:
        reruns = service.store.reruns
        running = reruns.add("mumble", "1.0.0+v1.6.870-0", 1, ALICE, "!room", "$a")
        reruns.set_state(running.id, RerunState.RUNNING)
        reruns.add("outline", "0.11.0+0.85.1", 3, "@bob:example.org", "!room", "$b")
        done = reruns.add("gitea", "3.5.1", 1, ALICE, None, None)
        reruns.set_state(done.id, RerunState.DONE)
        active = site.config.ccci.active_dir
        active.mkdir(parents=True, exist_ok=True)
        (active / "discourse-812.ci.example.org").touch()
        answer = asyncio.run(status(Context(service)))
    finally:
        service.close()
    text = to_text(answer)
    assert (
        f"reruns: mumble 1.0.0+v1.6.870-0 running (asked by {ALICE}); "
        "outline 0.11.0+0.85.1 x3 queued (asked by @bob:example.org)"
    ) in text
    assert "gitea" not in text
    assert "cc-ci runs in flight: discourse-812.ci.example.org" in text
    assert "<br>reruns: mumble" in to_html(answer)
    data = to_json(answer)
    assert [r["recipe"] for r in data["reruns"]] == ["mumble", "outline"]
    assert data["in_flight"] == ["discourse-812.ci.example.org"] and "runs" in data  # old keys stay


def test_history_names_who_started_each_isolation_run(site: Site) -> None:
    service = Service(site.config)
    try:
        asyncio.run(service.ingest())
        runs = service.store.runs.runs_of("mumble")
        isolated = next(r for r in runs if r.kind is RunKind.ISOLATION)
        rerun = service.store.reruns.add("mumble", isolated.version or "?", 1, ALICE, "!room", "$a")
        service.store.reruns.add_attempt(rerun.id, Attempt(AttemptOutcome.RAN, isolated.run_id, 60.0, "", n=1))
        answer = asyncio.run(history(Context(service), recipe="mumble", n=50))
    finally:
        service.close()
    line = next(x for x in to_text(answer).splitlines() if isolated.run_id in x)
    assert f"isolation (by {ALICE})" in line
    assert f"(by {ALICE})" in to_html(answer)
    by = {r["run_id"]: r["started_by"] for r in to_json(answer)["runs"]}
    assert by[isolated.run_id] == ALICE
    assert all(v is None for k, v in by.items() if k != isolated.run_id)
