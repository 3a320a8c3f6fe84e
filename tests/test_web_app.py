"""The evidence pages and API through aiohttp's test client, on the generated sample's real run dirs;
and in headless Chromium against `ccci-bot web` running as a real process."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from msgspec.structs import replace

from bot.config import WebAuthConfig, WebConfig
from bot.masking import MASK, Masker
from bot.render import to_json
from bot.service import Service
from bot.web import logview
from bot.web.metrics import Metrics
from bot.web.routes import make_app
from bot.web.warm import warm_logs
from demo.devserver.process import free_port
from demo.sample.generate import GeneratedData
from tests.browser import PNG_MAGIC, dump_dom, needs_chromium, screenshot
from tests.conftest import Site

SECRET = "hunter2-very-secret"
Client = TestClient  # type: ignore[type-arg]


def _serve(site: Site, check: Callable[[Client, Service], Awaitable[None]], **web: Any) -> None:
    config = replace(site.config, web=replace(WebConfig(), **web)) if web else site.config
    service = Service(config)

    async def scenario() -> None:
        await service.ingest()
        app = make_app(service, Masker([SECRET]), Metrics(service.store))
        async with TestClient(TestServer(app)) as client:
            await check(client, service)

    try:
        asyncio.run(scenario())
    finally:
        service.close()


def _red_run(sample: GeneratedData, recipe: str) -> str:
    """The recipe's last red sweep run, from the generator's ground truth."""
    return [r for r in sample.runs_of(recipe) if r.red and r.kind == "sweep"][-1].run_id


def test_index_is_the_latest_sweep_as_a_grid_with_verdicts(site: Site) -> None:
    async def check(client: Client, service: Service) -> None:
        page = await client.get("/")
        assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
        html = await page.text()
        latest = service.store.sweeps.latest_id()
        assert latest is not None and latest in html
        for recipe in service.store.runs.recipes():
            assert f'href="/recipes/{recipe}"' in html
        assert html.count('class="cell fail"') >= 1 and 'class="badge">stale-test' in html
        assert "<script" not in html
        assert "default-src 'none'" in page.headers["Content-Security-Policy"]
        assert page.headers["X-Content-Type-Options"] == "nosniff"

    _serve(site, check)


def test_recipe_page_has_the_strip_flake_rate_and_evidence(site: Site, sample: GeneratedData) -> None:
    async def check(client: Client, service: Service) -> None:
        html = await (await client.get("/recipes/mumble")).text()
        runs = [r for r in sample.runs if r.recipe == "mumble"]
        assert html.count('<a href="/runs/') >= len(runs)  # one strip cell per run, each a link
        assert "flake rate" in html and "judged flake" in html
        assert 'class="badge">flake' in html
        missing = await client.get("/recipes/mumbel")
        assert missing.status == 404 and "did you mean mumble" in await missing.text()

    _serve(site, check)


def test_run_page_lists_tiers_tests_verdict_and_only_served_artifacts(site: Site, sample: GeneratedData) -> None:
    async def check(client: Client, service: Service) -> None:
        run_id = _red_run(sample, "discourse")
        html = await (await client.get(f"/runs/{run_id}/")).text()
        assert "test_head_runs_official_image_not_bitnamilegacy" in html
        assert 'class="badge">stale-test' in html
        assert f'href="/runs/{run_id}/run.log"' in html and f'href="/runs/{run_id}/results.json"' in html
        assert f'href="/runs/{run_id}/abra/' not in html  # the recipe clone is named as evidence, never served
        redirect = await client.get(f"/runs/{run_id}", allow_redirects=False)
        assert redirect.status == 302 and redirect.headers["Location"] == f"/runs/{run_id}/"
        unknown = await client.get("/runs/no-such-run/")
        assert unknown.status == 404

    _serve(site, check)


def test_log_page_opens_on_the_failure_with_anchors_and_highlights(site: Site, sample: GeneratedData) -> None:
    async def check(client: Client, service: Service) -> None:
        run_id = _red_run(sample, "gitea")
        html = await (await client.get(f"/runs/{run_id}/log")).text()
        highlighted = [int(n) for n in re.findall(r'<div id="L(\d+)" class=hl>', html)]
        assert highlighted, "the failure lines the evidence cites are highlighted"
        line = highlighted[0]
        raw = (site.runs_dir / run_id / "run.log").read_bytes()
        lines = raw.decode(errors="replace").removesuffix("\n").split("\n")  # log lines end at \n only
        text = lines[line - 1]
        assert text[:40] and text[:20].replace("&", "&amp;").replace("<", "&lt;") in html
        # an evidence link (artifact path + ?line=) opens the page holding that line
        linked = await (await client.get(f"/runs/{run_id}/run.log?line={line}")).text()
        assert f'id="L{line}"' in linked
        first = await (await client.get(f"/runs/{run_id}/log?start=1")).text()
        assert 'id="L1"' in first
        assert "\x1b" not in first and " ⏎ " in first  # image-pull progress redraws: escapes gone, marked
        opened = await client.get(f"/runs/{run_id}/log", allow_redirects=False)
        assert opened.status == 302 and opened.headers["Location"].endswith(f"log?line={line}#L{line}")
        tail = await (await client.get(f"/runs/{run_id}/log?tail=1")).text()
        assert f'id="L{len(lines)}"' in tail
        bad = await client.get(f"/runs/{run_id}/log?start=-3")
        assert bad.status == 400

    _serve(site, check)


@pytest.mark.writes_runs
def test_huge_log_is_paged_and_secrets_are_masked_in_pages_and_raw(site: Site, sample: GeneratedData) -> None:
    run_id = _red_run(sample, "outline")
    log = site.runs_dir / run_id / "run.log"
    real = log.read_bytes()
    filler = b"".join(b"INFO waiting for convergence, step %d <b>not html</b>\n" % i for i in range(1000))
    with log.open("wb") as out:  # ~50 MB: the pager must not read it all to show one page
        for _ in range(1000):
            out.write(filler)
        out.write(f"token={SECRET} leaked by a careless script\n".encode())
        out.write(real)
    total = 1_000_000 + 1 + real.count(b"\n")

    async def check(client: Client, service: Service) -> None:
        page = await (await client.get(f"/runs/{run_id}/log?start=500000")).text()
        assert 'id="L500000"' in page and 'id="L500499"' in page and 'id="L500500"' not in page
        assert "&lt;b&gt;not html&lt;/b&gt;" in page and "<b>not html</b>" not in page
        leaked = await (await client.get(f"/runs/{run_id}/log?line=1000001")).text()
        assert SECRET not in leaked and f"token={MASK}" in leaked
        tail = await (await client.get(f"/runs/{run_id}/log?tail=1")).text()
        assert f'id="L{total}"' in tail and f"{total:,} lines" in tail
        raw = await client.get(f"/runs/{run_id}/log?raw=1")
        assert raw.headers["Content-Type"].startswith("text/plain")
        body = await raw.read()
        assert len(body) > 50_000_000 and SECRET.encode() not in body and f"token={MASK}".encode() in body

    _serve(site, check)


def test_junit_page_and_raw_file(site: Site, sample: GeneratedData) -> None:
    async def check(client: Client, service: Service) -> None:
        run_id = _red_run(sample, "discourse")
        failure = service.store.results.failures(run_id)[0]
        name = failure.junit_file.rsplit("/", 1)[-1]
        html = await (await client.get(f"/runs/{run_id}/junit/{name}")).text()
        assert failure.test in html and "bitnamilegacy/discourse" in html and "<table>" in html
        raw = await client.get(f"/runs/{run_id}/junit/{name}?raw=1")
        assert raw.headers["Content-Type"].startswith("text/plain") and "<testsuite" in await raw.text()
        results = await client.get(f"/runs/{run_id}/results.json")
        assert results.status == 200 and json.loads(await results.text())["recipe"] == "discourse"

    _serve(site, check)


@pytest.mark.parametrize(
    "path",
    [
        "..%2F..%2F..%2Fetc%2Fpasswd",
        "junit%2F..%2F..%2Fother",
        "%2Fetc%2Fpasswd",
        "abra/recipes/discourse/compose.yml",
        "junit/",
        "junit/..%2Fresults.json",
        "results.json%00",
    ],
)
def test_paths_outside_the_artifacts_are_refused(site: Site, sample: GeneratedData, path: str) -> None:
    async def check(client: Client, service: Service) -> None:
        run_id = _red_run(sample, "discourse")
        response = await client.get(f"/runs/{run_id}/{path}")
        assert response.status in (400, 403, 404), response.status
        assert "root:" not in await response.text()

    _serve(site, check)


@pytest.mark.writes_runs
def test_symlinks_escaping_the_run_are_refused(site: Site, sample: GeneratedData, tmp_path: Path) -> None:
    run_id = _red_run(sample, "discourse")
    junit = site.runs_dir / run_id / "junit"
    outside = tmp_path / "outside.xml"
    outside.write_text("<testsuite name='secret'/>")
    (junit / "escape__x__y.xml").symlink_to(outside)
    (junit / "passwd__x__y.xml").symlink_to("/etc/passwd")

    async def check(client: Client, service: Service) -> None:
        for name in ("escape__x__y.xml", "passwd__x__y.xml"):
            for suffix in ("", "?raw=1"):
                response = await client.get(f"/runs/{run_id}/junit/{name}{suffix}")
                assert response.status == 403, (name, suffix, response.status)
                assert "secret" not in await response.text()

    _serve(site, check)


def test_api_answers_are_the_clis_json(site: Site) -> None:
    async def check(client: Client, service: Service) -> None:
        why = await (await client.get("/api/why/mumble")).json()
        assert why == json.loads(json.dumps(to_json(await service.why("mumble"))))
        summary = await (await client.get("/api/summary")).json()
        assert summary == json.loads(json.dumps(to_json(await service.summary())))
        report = await (await client.get("/api/report/sweep")).json()
        assert set(report["newly_red"]) == {"gitea", "mumble", "outline"}
        history = await (await client.get("/api/history/mumble?n=3")).json()
        assert len(history["runs"]) == 3
        sweeps = service.store.sweeps.ids()
        named = await (await client.get(f"/api/summary/{sweeps[0]}")).json()
        assert named == json.loads(json.dumps(to_json(await service.summary(sweeps[0]))))
        older = await (await client.get(f"/api/report/sweep/{sweeps[1]}")).json()
        assert older["sweep_id"] == sweeps[1] and older["previous_sweep_id"] == sweeps[0]
        red = await (await client.get("/api/report/red")).json()
        reds = {r for r in service.store.runs.recipes() if (await service.why(r)).status.value == "red"}
        assert {r["recipe"] for r in red["red"]} == reds
        recipes = await (await client.get("/api/recipes")).json()
        assert recipes == {"recipes": service.store.runs.recipes()}
        run_id = why["run_id"]
        run = await (await client.get(f"/api/runs/{run_id}")).json()
        assert run["recipe"] == "mumble" and run["status"] == why["status"] and "tiers" in run
        unknown = await client.get("/api/why/nope")
        assert unknown.status == 404 and "error" in await unknown.json()
        post = await client.post("/api/why/mumble")
        assert post.status == 405

    _serve(site, check)


def test_health_and_metrics(site: Site) -> None:
    async def check(client: Client, service: Service) -> None:
        health = await (await client.get("/healthz")).json()
        assert health["ok"] is True and health["runs"] == service.store.counts()["runs"]
        metrics = await (await client.get("/metrics")).text()
        assert "ccci_runs_known" in metrics and "ccci_verdicts" in metrics

    _serve(site, check)


def test_pages_can_require_a_bearer_token(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCCI_TEST_WEB_TOKEN", "pages-token")

    async def check(client: Client, service: Service) -> None:
        assert (await client.get("/")).status == 401
        assert (await client.get("/", headers={"Authorization": "Bearer wrong"})).status == 401
        assert (await client.get("/", headers={"Authorization": "Bearer pages-token"})).status == 200
        assert (await client.get("/healthz")).status == 200

    _serve(site, check, auth=WebAuthConfig(bearer_token_env="CCCI_TEST_WEB_TOKEN"))


# --- a real browser against `ccci-bot web` ---------------------------------------------------------------


@pytest.fixture
def web_process(site: Site, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    argv = [sys.executable, "-m", "bot.cli", "web", "--listen", f"127.0.0.1:{port}"]
    argv += ["--runs-dir", str(site.runs_dir), "--warm-dir", str(site.warm_dir), "--data-dir", str(tmp_path / "web")]
    log = (tmp_path / "web.log").open("wb")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, (tmp_path / "web.log").read_text()
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                if json.loads(response.read())["runs"] > 0:
                    break
        except OSError:
            pass
        assert time.monotonic() < deadline, (tmp_path / "web.log").read_text()
        time.sleep(0.1)
    try:
        yield base
    finally:
        proc.terminate()
        assert proc.wait(20) == 0, (tmp_path / "web.log").read_text()
        log.close()


@needs_chromium
def test_chromium_opens_the_recipe_page_and_the_log_of_a_red_run(
    site: Site, sample: GeneratedData, web_process: str, tmp_path: Path
) -> None:
    recipe = dump_dom(f"{web_process}/recipes/outline", tmp_path / "chromium")
    assert "flake rate" in recipe and "test_collection_export_completes" in recipe
    shot = screenshot(f"{web_process}/recipes/outline", tmp_path / "recipe.png", tmp_path / "chromium", 412, 900)
    assert shot.read_bytes().startswith(PNG_MAGIC)
    run_id = _red_run(sample, "outline")
    dom = dump_dom(f"{web_process}/runs/{run_id}/log", tmp_path / "chromium")
    highlighted = re.findall(r'<div id="L(\d+)" class="hl">', dom)
    assert highlighted, dom[:2000]
    first = min(int(n) for n in highlighted)
    # no fragment and no redirect: headless Chromium's screenshot can fire before a scroll to an anchor
    log = screenshot(f"{web_process}/runs/{run_id}/log?start={first}", tmp_path / "log.png", tmp_path / "c")
    assert log.read_bytes().startswith(PNG_MAGIC) and os.path.getsize(log) > 10_000


def test_a_new_red_runs_log_is_counted_before_the_first_reader(site: Site, sample: GeneratedData) -> None:
    # short pages, so the failure line is not on the first page and reaching it means counting
    service = Service(replace(site.config, web=replace(WebConfig(), log_page_lines=10)))
    asyncio.run(service.ingest())
    run_id = _red_run(sample, "gitea")
    green = next(r.run_id for r in sample.runs if not r.red and r.has_results)
    log = site.runs_dir / run_id / "run.log"
    logview.clear_cache()
    assert logview.cached_index(log) is None
    assert asyncio.run(warm_logs(service, [green, run_id])) == 1  # only red runs with a cited log line
    index = logview.cached_index(log)
    assert index is not None and index.scanned_bytes > 0
    service.close()
