"""/known, /api/known and the recipe page's operators' memory through aiohttp's test client, on the sample
world's real run dirs with links, verdicts and mutes recorded by the service as the commands do."""

from __future__ import annotations

import re
import time

from bot.model.records import Category
from bot.render import to_json
from bot.service import Service
from tests.conftest import Site
from tests.test_web_app import Client, _serve

ISSUE = "https://git.example/mattermost-lts/issues/12?a=1&b=<2>"
OP = "@op:example.org"


async def _record(service: Service) -> None:
    await service.knowledge.link("mattermost-lts", ISSUE, "restore loses <the> marker table", OP)
    await service.knowledge.set_verdict("discourse", Category.STALE_TEST, "the test pins 3.5.3", OP)
    other = "@other:example.org"
    await service.knowledge.set_verdict("discourse", Category.UPSTREAM_DEFECT, "no: the image moved", other)
    await service.knowledge.mute("bluesky", time.time() + 14 * 86400, "image withdrawn upstream", OP)


def test_known_page_lists_issues_escaped_with_a_weekly_chart_and_the_mutes(site: Site) -> None:
    async def check(client: Client, service: Service) -> None:
        empty = await (await client.get("/known")).text()
        assert "No issue linked yet" in empty and "<script" not in empty
        await _record(service)
        page = await client.get("/known")
        assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
        html = await page.text()
        assert "<script" not in html and ISSUE not in html  # never raw: escaped
        assert 'href="https://git.example/mattermost-lts/issues/12?a=1&amp;b=&lt;2&gt;"' in html
        assert "restore loses &lt;the&gt; marker table" in html
        assert 'href="/recipes/mattermost-lts"' in html and "still failing" in html
        data = await (await client.get("/api/known")).json()
        (issue,) = data["issues"]
        weeks = issue["hits_per_week"]
        assert len(weeks) == 12 and sum(weeks) <= issue["hits"] and issue["hits"] >= 2
        chart = re.search(r'<svg class="weeks".*?</svg>', html)
        assert chart is not None
        assert chart.group(0).count("<rect") == sum(1 for w in weeks if w)  # one bar per week with hits
        assert ", ".join(map(str, weeks)) in chart.group(0)  # the counts, readable without the picture
        assert "bluesky" in html and "image withdrawn upstream" in html and "Muted (1)" in html
        assert data == to_json(await service.knowledge.known())  # the same shape as `known --json`
        assert [m["recipe"] for m in data["muted"]] == ["bluesky"]

    _serve(site, check)


def test_recipe_page_shows_link_mute_and_hand_verdict_with_their_history(site: Site) -> None:
    async def check(client: Client, service: Service) -> None:
        before = await (await client.get("/recipes/discourse")).text()
        assert "What the operators know" not in before
        await _record(service)
        html = await (await client.get("/recipes/discourse")).text()
        assert "Verdict by hand: <b>upstream-defect</b> (@other:example.org)" in html
        assert "The rules say:" in html  # the rules' verdict is kept beside the operator's
        history = html.split("<h3>History", 1)[1]
        rows = re.findall(r"<tr><td>[^<]*</td><td>([^<]*)</td><td>([^<]*)</td><td>(.*?)</td></tr>", history)
        assert [(who, what) for who, what, _ in rows] == [("@other:example.org", "verdict"), (OP, "verdict")]
        assert "upstream-defect" in rows[0][2] and "replacing stale-test" in rows[0][2]
        linked = await (await client.get("/recipes/mattermost-lts")).text()
        assert 'Linked: <a href="https://git.example/mattermost-lts/issues/12?a=1&amp;b=&lt;2&gt;"' in linked
        assert ">link</td>" in linked
        muted = await (await client.get("/recipes/bluesky")).text()
        assert "Muted until" in muted and "image withdrawn upstream" in muted and ">mute</td>" in muted
        await service.knowledge.unmute("bluesky", OP)
        unmuted = await (await client.get("/recipes/bluesky")).text()
        assert "Muted until" not in unmuted
        assert unmuted.index(">unmute</td>") < unmuted.index(">mute</td>")  # newest first

    _serve(site, check)
