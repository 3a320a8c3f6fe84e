"""No host path in chat or in the summary: a file is a link to the pages, or nothing.

Every message the sample world makes the bot post — each recipe's `why` (the room's reply and its
thread), `summary`, `history`, the sweep summary and the red report, and a rerun's final report —
is rendered with links (a configured base) and without (none configured, where a leak would show), and
scanned for the host's directories: the runs, warm and data dirs, and the defaults of a real install.
Quoted log lines are the run's own words (the sample's pytest prints where it ran) and are left out
of the scan: it is the bot's own words that must name no host path.
"""

from __future__ import annotations

import asyncio
import re
import time

import pytest
from msgspec.structs import replace

from bot.config import LinksConfig
from bot.config.schema import DEFAULT_DATA_DIR
from bot.config.sections import DEFAULT_ACTIVE_DIR, DEFAULT_RUNS_DIR, DEFAULT_WARM_DIR
from bot.model.records import RunKind
from bot.model.reruns import Attempt, AttemptOutcome
from bot.render import reports, to_chat
from bot.reruns.report import _report
from bot.service import Service
from tests.conftest import Site

_QUOTED = re.compile(r"^\s*\d+[> ] [^\n]*$|<pre><code>.*?</code></pre>", re.M | re.S)


def own_words(text: str) -> str:
    """A message without its quoted log lines (numbered, or an HTML <pre> block)."""
    return _QUOTED.sub("", text)


def messages(service: Service) -> list[str]:
    """Every message body (plain and HTML) the sample world gives the room."""

    async def gather() -> list[str]:
        await service.ingest()
        out: list[str] = []
        for recipe in await service.recipes():
            for answer in (await service.why(recipe), await service.history(recipe, 20)):
                chat = to_chat(answer, "!ccci")
                out += [chat.body, chat.html, *(chat.thread or ())]
        summary = to_chat(await service.summary(), "!ccci")
        out += [summary.body, summary.html]
        sweep = await service.sweep_report()
        for r in (reports.headline(sweep), reports.details(sweep, service.config.reports.flip_window)):
            out += [r.text, r.html]
        red = reports.red_report(await service.red_report(time.time()))
        out += [red.text, red.html]
        return out

    found = asyncio.run(gather())
    # a rerun's final report, for an isolation run of the sample (its log kept in data_dir/reruns)
    store = service.store
    iso = next(r for recipe in store.runs.recipes() for r in store.runs.runs_of(recipe) if r.kind is RunKind.ISOLATION)
    rerun = store.reruns.add(iso.recipe, iso.version or "?", 1, "@alice:x", "!room", "$ask")
    log_path = str(service.config.data_dir / "reruns" / f"{iso.run_id}.log")
    ran = Attempt(AttemptOutcome.RAN, iso.run_id, 61.0, log_path, n=1)
    failed = Attempt(AttemptOutcome.START_FAILED, None, 1.0, log_path, "", "the runner did not start", n=2)
    found.append(_report(service, rerun, [ran, failed]))
    return found


@pytest.mark.parametrize("linked", [True, False], ids=["links", "no-links"])
def test_no_message_names_a_host_path(site: Site, linked: bool) -> None:
    config = site.config if linked else replace(site.config, links=LinksConfig(None))
    assert (config.link_base is not None) is linked
    service = Service(config)
    try:
        found = messages(service)
    finally:
        service.close()
    assert len(found) > 50
    host = [site.runs_dir, site.warm_dir, config.data_dir, DEFAULT_RUNS_DIR, DEFAULT_WARM_DIR, DEFAULT_DATA_DIR]
    host += [DEFAULT_ACTIVE_DIR, site.runs_dir.parent]
    for text in map(own_words, found):
        for path in host:
            assert str(path) not in text, f"{path} in:\n{text[:3000]}"
    # the leaks this test was written for are gone, not merely moved
    assert not any("canonical.json" in t and "/ci-warm/" in t for t in found)
    assert any("[canonical]" in t for t in found)
