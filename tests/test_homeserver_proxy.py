"""`ccci-bot run` behind a proxy in front of the real Synapse (issue 25, item 13e): a 502 on whoami
while the bot starts is a blip to wait out with the bot's backoff, not a refused token; a real refusal
(401 M_UNKNOWN_TOKEN) still stops the bot with that reason."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from aiohttp import ClientSession, web

from demo.devserver.synapse import LocalSynapse, free_port
from tests.matrix_harness import BotProcess
from tests.service_world import World, make_world
from tests.test_sdnotify import Listener

pytestmark = [pytest.mark.slow, pytest.mark.synapse]
TOKEN_ENV = "CCCI_TEST_BOT_TOKEN"
_HOP_BY_HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}


class WhoamiProxy:
    """A reverse proxy on 127.0.0.1 that forwards everything to Synapse, except that its first
    ``failures`` whoami requests get ``answer`` instead (what nginx says while Synapse restarts)."""

    def __init__(self, upstream: str, failures: int, answer: web.Response | None = None) -> None:
        self.upstream = upstream
        self.failures = failures
        self.answer = answer
        self.whoami: list[int] = []  # the status each whoami got
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _reply(self) -> web.Response:
        if self.answer is not None:
            return web.Response(status=self.answer.status, body=self.answer.body, content_type=self.answer.content_type)
        return web.Response(status=502, text="<html><body>502 Bad Gateway</body></html>", content_type="text/html")

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        if request.path.endswith("/account/whoami") and self.failures > 0:
            self.failures -= 1
            reply = self._reply()
            self.whoami.append(reply.status)
            return reply
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        async with self._http.request(
            request.method, f"{self.upstream}{request.path_qs}", headers=headers, data=await request.read()
        ) as upstream:
            body = await upstream.read()
            if request.path.endswith("/account/whoami"):
                self.whoami.append(upstream.status)
            out = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP}
            return web.Response(status=upstream.status, body=body, headers=out)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            self._http = ClientSession()
            app = web.Application(client_max_size=64 * 1024 * 1024)
            app.router.add_route("*", "/{tail:.*}", self._forward)
            self._runner = web.AppRunner(app)
            await self._runner.setup()
            await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
            self._ready.set()

        self._loop.run_until_complete(start())
        self._loop.run_forever()

    def start(self) -> None:
        self._thread.start()
        assert self._ready.wait(30), "the proxy did not start"

    def stop(self) -> None:
        async def stop() -> None:
            await self._runner.cleanup()
            await self._http.close()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)


@pytest.fixture
def world(synapse: LocalSynapse, tmp_path: Path) -> World:
    return make_world(synapse, tmp_path)


def behind(world: World, proxy: WhoamiProxy) -> Path:
    """The world's config, through the proxy and with the bot's access token (whoami is its first call)."""
    config = yaml.safe_load(world.config_path.read_text())
    config["matrix"]["homeserver"] = proxy.url
    config["matrix"]["access_token_env"] = TOKEN_ENV
    config["matrix"]["e2ee"] = False
    path = world.home / "behind-proxy.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def notify() -> Iterator[tuple[str, Listener]]:
    name = f"@ccci-test-blip-{free_port()}"
    listener = Listener(b"\0" + name[1:].encode())
    yield name, listener
    listener.close()


def test_a_502_on_whoami_at_start_is_waited_out_and_the_bot_comes_up(
    world: World, notify: tuple[str, Listener]
) -> None:
    proxy = WhoamiProxy(world.synapse.url, failures=2)
    proxy.start()
    name, listener = notify
    env = {**world.environ(), TOKEN_ENV: world.bot.access_token, "NOTIFY_SOCKET": name}
    bot = BotProcess(behind(world, proxy), world.bot.password, world.home / "bot.log", env=env)
    bot.start()
    try:
        try:
            listener.until("READY", 90)
        except TimeoutError:
            raise AssertionError(f"no READY=1:\n{bot.log()}") from None
    finally:
        code = bot.stop()
        proxy.stop()
    assert code == 0, bot.log()
    assert proxy.whoami[:3] == [502, 502, 200], proxy.whoami
    log = bot.log()
    assert "answered whoami with 502" in log and "retrying" in log, log
    assert "refused" not in log, log


def test_a_refused_token_still_stops_the_bot_with_the_reason(world: World) -> None:
    refusal = web.json_response({"errcode": "M_UNKNOWN_TOKEN", "error": "Invalid access token passed."}, status=401)
    proxy = WhoamiProxy(world.synapse.url, failures=1000, answer=refusal)
    proxy.start()
    env = {**world.environ(), TOKEN_ENV: "rotated-away"}
    bot = BotProcess(behind(world, proxy), world.bot.password, world.home / "bot.log", env=env)
    bot.start()
    try:
        assert bot.proc is not None
        code = bot.proc.wait(90)
    finally:
        bot.stop()
        proxy.stop()
    assert code != 0
    assert f"ccci-bot: the access token in ${TOKEN_ENV} was refused: 401 M_UNKNOWN_TOKEN" in bot.log(), bot.log()
    assert "Traceback" not in bot.log(), bot.log()
    assert proxy.whoami == [401]
