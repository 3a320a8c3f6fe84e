"""A homeserver (or the proxy in front of it) that answers 5xx for a moment is not a refused token
(issue 25, item 13e): the bot's login and doctor tell a refusal (401/403, M_UNKNOWN_TOKEN) from a
transient failure (5xx, no connection), and retry the second.

The homeserver here is a real HTTP server on 127.0.0.1 answering from a script (what a proxy in front
of Synapse answers during a blip); the whole bot behind a proxy in front of the real Synapse is in
tests/test_homeserver_proxy.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.config import MatrixConfig
from bot.doctor import Check, Doctor, diagnose
from bot.doctor import local as doctor_local
from bot.doctor import matrix as doctor_matrix
from bot.matrix.client import MatrixConnection, MatrixError, Unavailable
from bot.matrix.session import SESSION_FILE

USER = "@ccci-bot:example.org"
TOKEN_ENV = "CCCI_TEST_TOKEN"
PASSWORD_ENV = "CCCI_TEST_PASSWORD"
BAD_GATEWAY = (502, "<html><body><h1>502 Bad Gateway</h1></body></html>")
UNKNOWN_TOKEN = (401, {"errcode": "M_UNKNOWN_TOKEN", "error": "Invalid access token passed."})
WHO = (200, {"user_id": USER, "device_id": "BOTDEVICE"})


@dataclass
class ScriptedHomeserver:
    """Answers whoami from a script (the last answer repeats), logins with a new token; counts calls."""

    whoami: list[tuple[int, Any]]
    calls: list[str] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/_matrix/client/versions", self.versions)
        app.router.add_get("/_matrix/client/v3/account/whoami", self.who)
        app.router.add_get("/_matrix/client/r0/account/whoami", self.who)
        app.router.add_post("/_matrix/client/v3/login", self.login)
        app.router.add_post("/_matrix/client/r0/login", self.login)
        return app

    async def versions(self, request: web.Request) -> web.Response:
        return web.json_response({"versions": ["v1.10", "v1.11"]})

    async def who(self, request: web.Request) -> web.Response:
        self.calls.append("whoami")
        status, body = self.whoami.pop(0) if len(self.whoami) > 1 else self.whoami[0]
        if isinstance(body, str):
            return web.Response(status=status, text=body, content_type="text/html")
        return web.json_response(body, status=status)

    async def login(self, request: web.Request) -> web.Response:
        self.calls.append("login")
        return web.json_response({"user_id": USER, "device_id": "NEWDEVICE", "access_token": "new-token"})


async def serving(script: list[tuple[int, Any]]) -> tuple[ScriptedHomeserver, TestServer]:
    homeserver = ScriptedHomeserver(list(script))
    server = TestServer(homeserver.app(), host="127.0.0.1")
    await server.start_server()
    return homeserver, server


def run(coro: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(coro())


def connection(url: str, data_dir: Path, environ: dict[str, str]) -> MatrixConnection:
    config = MatrixConfig(
        homeserver=url,
        user_id=USER,
        access_token_env=TOKEN_ENV if TOKEN_ENV in environ else None,
        password_env=PASSWORD_ENV if PASSWORD_ENV in environ else None,
        rooms=("!ops:example.org",),
        e2ee=False,
    )
    return MatrixConnection(config, data_dir, environ=environ)


def test_a_502_on_whoami_is_transient_and_the_next_try_logs_in(tmp_path: Path) -> None:
    async def scenario() -> None:
        homeserver, server = await serving([BAD_GATEWAY, WHO])
        conn = connection(str(server.make_url("")).rstrip("/"), tmp_path, {TOKEN_ENV: "good-token"})
        try:
            with pytest.raises(Unavailable, match="502"):
                await conn.connect()
            await conn.connect()  # what the bot's login loop does after its backoff
            assert conn.user_id == USER and conn.device_id == "BOTDEVICE"
            assert homeserver.calls == ["whoami", "whoami"]
        finally:
            await conn.close()
            await server.close()

    run(scenario)


def test_a_refused_token_is_still_refused(tmp_path: Path) -> None:
    async def scenario() -> None:
        _, server = await serving([UNKNOWN_TOKEN])
        conn = connection(str(server.make_url("")).rstrip("/"), tmp_path, {TOKEN_ENV: "rotated-away"})
        try:
            with pytest.raises(MatrixError, match="was refused"):
                await conn.connect()
        finally:
            await conn.close()
            await server.close()

    run(scenario)


def test_a_5xx_on_a_saved_session_keeps_the_device_and_makes_no_new_login(tmp_path: Path) -> None:
    """Before: a blip made the bot drop its saved session and log in again (a new device each time)."""
    (tmp_path / SESSION_FILE).write_text(json.dumps({"user_id": USER, "device_id": "BOTDEVICE", "access_token": "t"}))

    async def scenario() -> None:
        homeserver, server = await serving([(503, {"errcode": "M_UNKNOWN", "error": "overloaded"}), WHO])
        conn = connection(str(server.make_url("")).rstrip("/"), tmp_path, {PASSWORD_ENV: "pw"})
        try:
            with pytest.raises(Unavailable, match="503"):
                await conn.connect()
            await conn.connect()
            assert homeserver.calls == ["whoami", "whoami"]  # no login: the saved device is kept
            assert conn.device_id == "BOTDEVICE"
        finally:
            await conn.close()
            await server.close()

    run(scenario)


# --- doctor -------------------------------------------------------------------------------------------


def doctor_config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "bot.yaml"
    config = {
        "data_dir": str(tmp_path / "state"),
        "matrix": {"homeserver": url, "user_id": USER, "access_token_env": TOKEN_ENV, "rooms": ["!ops:example.org"]},
    }
    path.write_text(yaml.safe_dump(config))
    return path


def doctor_login(tmp_path: Path, script: list[tuple[int, Any]]) -> tuple[dict[str, Any], list[str]]:
    found: dict[str, Any] = {}
    calls: list[str] = []

    async def scenario() -> None:
        homeserver, server = await serving(script)
        try:
            doctor = Doctor(doctor_config(tmp_path, str(server.make_url("")).rstrip("/")), {TOKEN_ENV: "good-token"})
            checks: list[Check] = [doctor_local.config_valid, doctor_matrix.homeserver, doctor_matrix.login]
            for result in await diagnose(doctor, checks):
                found[result.name] = result
            calls.extend(homeserver.calls)
        finally:
            await server.close()

    run(scenario)
    return found, calls


def test_doctor_retries_a_502_on_whoami_and_passes(tmp_path: Path) -> None:
    found, calls = doctor_login(tmp_path, [BAD_GATEWAY, WHO])
    assert found["login"].outcome == "pass", found["login"]
    assert calls == ["whoami", "whoami"]


def test_doctor_says_a_homeserver_that_keeps_failing_is_not_a_token_problem(tmp_path: Path) -> None:
    found, calls = doctor_login(tmp_path, [BAD_GATEWAY])
    login = found["login"]
    assert login.outcome == "fail"
    assert "502" in login.detail and "not the token" in login.detail, login
    assert "renew" not in login.fix and "token" not in login.fix, login
    assert len(calls) >= 2  # it tried again before saying so


def test_doctor_says_a_refused_token_is_refused(tmp_path: Path) -> None:
    found, _ = doctor_login(tmp_path, [UNKNOWN_TOKEN])
    login = found["login"]
    assert login.outcome == "fail"
    assert "refused" in login.detail and "M_UNKNOWN_TOKEN" in login.detail, login
    assert "renew the access token" in login.fix or "EnvironmentFile" in login.fix, login
