"""A cc-ci that names its files otherwise: the sample world with every run's results, log and JUnit dir
and every canonical record renamed, read under matching ``ccci.*_name`` settings. Ingest, the verdicts,
`why` and the pages work as they do on cc-ci's default names (bot/artifacts/layout.py)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.answers.why import why
from bot.config import CcciConfig, Config, LinksConfig
from bot.ingest.scan import ingest
from bot.kb import load_kb
from bot.masking import Masker
from bot.model.answers import WhyAnswer
from bot.model.records import EvidenceKind
from bot.render import to_json
from bot.service import Service
from bot.store import Store
from bot.verdicts.cache import Verdicts
from bot.verdicts.staletest import GitRecipeSearch
from bot.web.metrics import Metrics
from bot.web.routes import make_app
from demo.sample.generate import GeneratedData
from tests.conftest import BASE_URL, Site

DEFAULT = CcciConfig()
RENAMED = {
    "results_name": "outcome.json",
    "log_name": "runner.txt",
    "junit_dir": "xml-reports",
    "canonical_name": "stable.json",
}
Client = TestClient  # type: ignore[type-arg]


@dataclass
class World:
    runs_dir: Path
    config: Config


def _renamed_world(sample: GeneratedData, root: Path) -> World:
    """A copy of the sample world with cc-ci's files under the RENAMED names, and a config that says so."""
    runs_dir, warm_dir = root / "runs", root / "warm"
    root.mkdir()
    shutil.copytree(sample.runs_dir, runs_dir, symlinks=True)  # copy2 keeps mtimes: runs stay "settled"
    shutil.copytree(sample.warm_dir, warm_dir)
    moves = {
        DEFAULT.results_name: RENAMED["results_name"],
        DEFAULT.log_name: RENAMED["log_name"],
        DEFAULT.junit_dir: RENAMED["junit_dir"],
    }
    for run in runs_dir.iterdir():
        for old, new in moves.items():
            if os.path.lexists(run / old):
                (run / old).rename(run / new)
    for recipe in warm_dir.iterdir():
        if (recipe / DEFAULT.canonical_name).exists():
            (recipe / DEFAULT.canonical_name).rename(recipe / RENAMED["canonical_name"])
    left = [p for p in (*runs_dir.glob("*/*"), *warm_dir.glob("*/*")) if p.name in (*moves, DEFAULT.canonical_name)]
    assert left == []  # nothing under the default names: whatever the bot reads, it read by the config's
    (root / "active").mkdir()
    ccci = CcciConfig(runs_dir=runs_dir, warm_dir=warm_dir, active_dir=root / "active", **RENAMED)
    return World(runs_dir, Config(data_dir=root / "state", links=LinksConfig(BASE_URL), ccci=ccci))


def _judged(config: Config) -> tuple[Store, Verdicts, list[str]]:
    store = Store(config.db_path)
    report = ingest(store, config)
    verdicts = Verdicts(store, config, load_kb(), GitRecipeSearch())
    verdicts.decide_again()
    return store, verdicts, report.problems


def _as_default(text: str) -> str:
    """A text of the renamed world with each renamed file called by its default name again."""
    for key, new in RENAMED.items():
        text = text.replace(new, getattr(DEFAULT, key))
    return text


@pytest.fixture
def world(sample: GeneratedData, tmp_path: Path) -> World:
    return _renamed_world(sample, tmp_path / "renamed")  # beside the `site` fixture's state in tmp_path


def test_ingest_and_verdicts_are_those_of_the_default_names(world: World, site: Site, sample: GeneratedData) -> None:
    renamed_store, renamed, problems = _judged(world.config)
    default_store, default, default_problems = _judged(site.config)
    try:
        assert sorted(_as_default(p) for p in problems) == sorted(default_problems)  # read in parallel: any order
        assert renamed_store.counts() == default_store.counts()
        for recipe in sorted({r.recipe for r in sample.runs}):
            ours = why(renamed_store, world.config, recipe, renamed)
            theirs = why(default_store, site.config, recipe, default)
            assert (ours.run_id, ours.status, len(ours.failures)) == (
                theirs.run_id,
                theirs.status,
                len(theirs.failures),
            )
            assert [f.junit_file for f in ours.failures] == [
                f.junit_file.replace(f"{DEFAULT.junit_dir}/", f"{RENAMED['junit_dir']}/", 1) for f in theirs.failures
            ]
            if theirs.verdict is None:
                assert ours.verdict is None, recipe
                continue
            assert ours.verdict is not None, recipe
            assert (ours.verdict.category, ours.verdict.confidence, ours.verdict.rule, ours.verdict.settle) == (
                theirs.verdict.category,
                theirs.verdict.confidence,
                theirs.verdict.rule,
                theirs.verdict.settle,
            ), recipe
            assert _as_default(ours.verdict.reason) == theirs.verdict.reason
            here, there = str(world.runs_dir.parent), str(site.runs_dir.parent)  # host paths: the warm dir, clones
            assert [(e.kind, _as_default(e.path.replace(here, "<world>")), e.line) for e in ours.evidence] == [
                (e.kind, e.path.replace(there, "<world>"), e.line) for e in theirs.evidence
            ], recipe
            _cites_only_renamed_files(ours, world)
    finally:
        renamed_store.close()
        default_store.close()


def _cites_only_renamed_files(answer: WhyAnswer, world: World) -> None:
    """Every path, link and reason names the configured files; every cited log line is that line of the log."""
    data = to_json(answer)
    cited = [json.dumps(data["verdict"]), *(json.dumps([e["path"], e["url"]]) for e in data["evidence"])]
    for text in cited:
        for name in (DEFAULT.results_name, DEFAULT.log_name, DEFAULT.canonical_name, f"{DEFAULT.junit_dir}/"):
            assert name not in text, (answer.recipe, text)
    for e in answer.evidence:
        if e.kind is EvidenceKind.LOG and e.run_id is not None and e.line is not None:
            assert e.path == world.config.ccci.log_name
            assert e.url is not None and e.url.endswith(f"/{e.run_id}/{e.path}#L{e.line}")
            log = (world.runs_dir / e.run_id / e.path).read_bytes().decode(errors="replace").split("\n")  # \n only
            marked = [ln.split(">", 1)[1] for ln in e.excerpt.splitlines() if re.match(rf"\s*{e.line}>", ln)]
            words = re.findall(r"[A-Za-z0-9]{4,}", marked[0]) if marked else []  # excerpts shorten runs of ___
            assert words and all(w in log[e.line - 1] for w in words), (e.line, marked, log[e.line - 1])


def test_why_cites_the_renamed_results_log_and_canonical(world: World) -> None:
    store, verdicts, _ = _judged(world.config)
    try:
        mumble = why(store, world.config, "mumble", verdicts)  # a flake settled by a rerun and a canonical
        kinds = {e.kind: e for e in mumble.evidence}
        assert kinds[EvidenceKind.LOG].path == "runner.txt" and kinds[EvidenceKind.LOG].line is not None
        assert kinds[EvidenceKind.RERUN].path == "outcome.json"
        assert kinds[EvidenceKind.RERUN].url is not None and kinds[EvidenceKind.RERUN].url.endswith("/outcome.json")
        assert kinds[EvidenceKind.CANONICAL].path == "stable.json"  # its configured name; the warm dir is the host's
        assert mumble.canonical is not None  # the canonical record was read under its configured name
        assert mumble.failures and all(f.junit_file.startswith("xml-reports/") for f in mumble.failures)
    finally:
        store.close()


def _serve(config: Config, check: Callable[[Client, Service], Awaitable[None]]) -> None:
    service = Service(config)

    async def scenario() -> None:
        await service.ingest()
        async with TestClient(TestServer(make_app(service, Masker([]), Metrics(service.store)))) as client:
            await check(client, service)

    try:
        asyncio.run(scenario())
    finally:
        service.close()


def test_the_pages_serve_the_renamed_log_results_and_junit(world: World, sample: GeneratedData) -> None:
    run_id = [r for r in sample.runs_of("gitea") if r.red and r.kind == "sweep"][-1].run_id

    async def check(client: Client, service: Service) -> None:
        page = await (await client.get(f"/runs/{run_id}/")).text()
        assert f'href="/runs/{run_id}/runner.txt"' in page and f'href="/runs/{run_id}/outcome.json"' in page
        assert "run.log" not in page and "results.json" not in page
        junit = re.findall(rf'href="(/runs/{re.escape(run_id)}/xml-reports/[^"]+\.xml)"', page)
        assert junit, "the JUnit files are listed from the renamed dir"
        # the log page opens on the lines the evidence cites, in the renamed log
        opened = await client.get(f"/runs/{run_id}/log", allow_redirects=False)
        assert opened.status == 302
        line = int(opened.headers["Location"].rsplit("#L", 1)[1])
        log_page = await (await client.get(f"/runs/{run_id}/runner.txt?line={line}")).text()
        assert f'<div id="L{line}" class=hl>' in log_page
        # a JUnit link from the run page, and the JUnit file by its artifact path
        name = junit[0].rsplit("/", 1)[1]
        linked = re.findall(rf'href="(/runs/{re.escape(run_id)}/junit/[^"]+)"', page)
        assert linked and all(href.endswith(".xml") for href in linked)
        for href in (linked[0], junit[0]):
            shown = await client.get(href)
            assert shown.status == 200 and "tier " in await shown.text(), href
        raw = await client.get(f"/runs/{run_id}/junit/{name}?raw=1")
        assert raw.status == 200 and "<testsuite" in await raw.text()
        results = await client.get(f"/runs/{run_id}/outcome.json")
        assert results.status == 200 and json.loads(await results.text())["recipe"] == "gitea"
        for default in ("results.json", "run.log"):
            assert (await client.get(f"/runs/{run_id}/{default}")).status == 404

    _serve(world.config, check)
