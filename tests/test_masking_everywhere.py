"""A masked value planted everywhere a run dir can put it never leaves the bot (issue 14 item 6).

The value is in the log, in JUnit failure text and a test name (from a real pytest run), and in
results.json's version, ref and a tier name. Every web route the app declares, every /api answer, the
CLI's outputs and the chat renderings (through the real outbox, up to the transport) are checked.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from msgspec.structs import replace

from bot.backoff import Backoff
from bot.chat.messages import notice
from bot.chat.outbox import OutboxSender
from bot.cli import main
from bot.config import Config
from bot.masking import Masker
from bot.matrix.events import SendResult
from bot.model.records import Category
from bot.render import reports as render_reports
from bot.render import to_html, to_text
from bot.service import Service
from bot.store.chat import Outgoing
from bot.web.metrics import Metrics
from bot.web.routes import make_app
from tests.conftest import Site
from tests.hostile_world import RECIPE, RUN_ID, guarded_ingest, make_run, results, settled
from tests.junit_maker import run_pytest_junit

SECRET = "PlantedS3cret42x"
VAR = "CCCI_TEST_PLANTED"
RERUN_RUN_ID = "manual-ccci-1-1-0a1b2c3d"
JUNIT = "custom__cc-ci__test_custom.xml"
SUITE = f"""
def test_leaks_{SECRET}():
    assert 1 == 2, "the token was {SECRET}"

def test_evil_fails():
    assert False, "password={SECRET}"
"""


@pytest.fixture
def planted(site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv(VAR, SECRET)
    junit = run_pytest_junit(tmp_path / "suite", "custom__cc-ci__test_custom", SUITE)
    guarded_ingest(site.store, site.config)
    sweep = site.store.sweeps.latest_id()
    assert sweep is not None
    first = min(r.started or 0 for r in site.store.sweeps.runs(sweep))
    # inside the latest sweep, so it is in every sweep answer too
    data = results(version=f"1.0.0+{SECRET}", ref=SECRET, started=first + 60, finished=first + 600)
    data["stages"].append({"name": f"tier-{SECRET}", "status": "fail", "tests": []})
    data["stages"][0]["tests"].append({"name": f"test_leaks_{SECRET}", "status": "fail"})
    run = make_run(site.runs_dir, junit)
    (run / "results.json").write_text(json.dumps(data))
    (run / "run.log").write_text(
        f"start\nexport TOKEN={SECRET}\ntests/custom/test_custom.py::test_evil_fails FAILED\n"
        f"tests/custom/test_custom.py::test_leaks_{SECRET} FAILED\nE   the token was {SECRET}\n"
    )
    config = settled(site.config)
    config = replace(config, evidence=replace(config.evidence, mask_env=(VAR,)))
    guarded_ingest(site.store, config)
    assert any(SECRET in f.text for f in site.store.results.failures(RUN_ID)), "the value must really be in the store"
    shutil.copy(junit, run / "junit" / JUNIT)
    rerun_log = config.data_dir / "reruns" / f"{RERUN_RUN_ID}.log"  # a rerun's own log, followed live
    rerun_log.parent.mkdir(parents=True, exist_ok=True)
    rerun_log.write_text(f"step 1\nexport TOKEN={SECRET}\n")
    return config


# Every route pattern the app declares, and the paths that exercise it (raw variants included).
def _paths(sweep: str) -> dict[str, list[str]]:
    return {
        "/": ["/"],
        "/healthz": ["/healthz"],
        "/metrics": ["/metrics"],
        "/recipes/{recipe}": [f"/recipes/{RECIPE}"],
        "/known": ["/known"],
        "/api/known": ["/api/known"],
        "/runs/{run_id}/": [f"/runs/{RUN_ID}/"],
        "/runs/{run_id}": [f"/runs/{RUN_ID}"],
        "/runs/{run_id}/log": [
            f"/runs/{RUN_ID}/log",
            f"/runs/{RUN_ID}/log?raw=1",
            f"/runs/{RUN_ID}/log?tail=1",
            f"/runs/{RUN_ID}/log?start=1",
        ],
        "/reruns/{run_id}/log": [f"/reruns/{RERUN_RUN_ID}/log"],
        "/runs/{run_id}/junit/{name}": [f"/runs/{RUN_ID}/junit/{JUNIT}", f"/runs/{RUN_ID}/junit/{JUNIT}?raw=1"],
        "/runs/{run_id}/{path}": [f"/runs/{RUN_ID}/results.json", f"/runs/{RUN_ID}/run.log"],
        "/api/recipes": ["/api/recipes"],
        "/api/summary": ["/api/summary"],
        "/api/summary/{sweep}": [f"/api/summary/{sweep}"],
        "/api/why/{recipe}": [f"/api/why/{RECIPE}"],
        "/api/history/{recipe}": [f"/api/history/{RECIPE}"],
        "/api/report/sweep": ["/api/report/sweep"],
        "/api/report/sweep/{sweep}": [f"/api/report/sweep/{sweep}"],
        "/api/report/red": ["/api/report/red"],
        "/api/runs/{run_id}": [f"/api/runs/{RUN_ID}"],
    }


@pytest.mark.writes_runs
def test_no_page_or_api_answer_shows_the_value(planted: Config) -> None:
    service = Service(planted)
    masker = Masker.from_environment(planted.secret_envs)

    async def walk() -> dict[str, tuple[int, str]]:
        await service.ingest()
        # an operator pasting the value into a link, a verdict's reason and a mute: /known, the recipe page
        # and its history show them masked
        await service.knowledge.link(RECIPE, f"https://issues.example/{SECRET}", f"see {SECRET}", "@op:example.org")
        await service.knowledge.set_verdict(RECIPE, Category.RECIPE_DEFECT, f"because {SECRET}", "@op:example.org")
        await service.knowledge.mute(RECIPE, time.time() + 86400, f"quiet {SECRET}", "@op:example.org")
        app = make_app(service, masker, Metrics(service.store))
        declared = {r.resource.canonical.replace("{path:.+}", "{path}") for r in app.router.routes() if r.resource}
        row = service.store.runs.get(RUN_ID)
        assert row is not None and row.sweep_id is not None
        paths = _paths(row.sweep_id)
        assert declared == set(paths), f"routes not walked: {declared - set(paths)}"
        got: dict[str, tuple[int, str]] = {}
        async with TestClient(TestServer(app)) as client:
            for path in [p for ps in paths.values() for p in ps]:
                response = await client.get(path)
                got[path] = (response.status, await response.text())
        return got

    try:
        got = asyncio.run(walk())
    finally:
        service.close()
    for path, (status, body) in got.items():
        assert status < 500, path
        assert SECRET not in body, f"{path} shows the masked value"
    assert "••••••" in got[f"/runs/{RUN_ID}/"][1]  # the value was there, masked (the run page's failing list)
    assert "••••••" in got[f"/reruns/{RERUN_RUN_ID}/log"][1]
    assert "https://issues.example/••••••" in got["/known"][1]  # the URL the operator gave, masked
    assert "because ••••••" in got[f"/recipes/{RECIPE}"][1]  # the hand verdict's reason in its history


@pytest.mark.writes_runs
def test_no_cli_output_shows_the_value(planted: Config, site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    site.store.close()
    flags = ["--runs-dir", str(site.runs_dir), "--warm-dir", str(site.warm_dir), "--data-dir", str(planted.data_dir)]
    config_file = planted.data_dir.parent / "config.yaml"
    config_file.write_text(f"evidence:\n  mask_env: [{VAR}]\n")
    flags += ["--config", str(config_file)]
    commands = [["why", RECIPE], ["summary"], ["report", "sweep"], ["report", "red"], ["ingest"], ["reclassify"]]
    for command in commands:
        for json_flag in ([], ["--json"]):
            assert main([*command, *flags, *json_flag]) == 0, command
            captured = capsys.readouterr()
            assert SECRET not in captured.out and SECRET not in captured.err, command + json_flag
    assert main(["why", RECIPE, *flags]) == 0
    assert "••••••" in capsys.readouterr().out


@pytest.mark.writes_runs
def test_no_chat_message_shows_the_value(planted: Config, site: Site) -> None:
    service = Service(planted)
    sent: list[dict[str, Any]] = []

    async def transport(room_id: str, event_type: str, content: dict[str, Any], txn_id: str) -> SendResult:
        """Where the Matrix client would take over: what reaches it is what would reach the room."""
        sent.append(content)
        return SendResult(f"$event{len(sent)}", None)

    async def scenario() -> None:
        await service.ingest()
        why = await service.why(RECIPE)
        summary = await service.summary()
        history = await service.history(RECIPE, 10)
        sweep = await service.sweep_report()
        red = await service.red_report(0.0)
        rendered = [(to_text(a), to_html(a)) for a in (why, summary, history)]
        for shown in (
            render_reports.headline(sweep),
            render_reports.details(sweep, 10),
            render_reports.red_report(red),
        ):
            rendered.append((shown.text, shown.html))
        assert any(SECRET in text or SECRET in html for text, html in rendered), "the renderings carry the value"
        chat = service.store.chat
        chat.enqueue([Outgoing("!room:example.org", "m.room.message", notice(t, h)) for t, h in rendered])
        masker = Masker.from_environment(planted.secret_envs)
        outbox = OutboxSender(chat, transport, Backoff(0.01, 0.1), asyncio.Event(), masker)
        assert await outbox.flush() is None

    try:
        asyncio.run(scenario())
    finally:
        service.close()
    assert len(sent) == 6
    for content in sent:
        assert SECRET not in json.dumps(content, ensure_ascii=False)
