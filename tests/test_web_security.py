"""The pages' middlewares: security headers everywhere, read-only methods, optional auth."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable, Mapping

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from aiohttp.typedefs import Middleware

from bot.config import ConfigError, WebAuthConfig
from bot.web.security import CSP, make_auth, read_only, security_headers, security_middlewares

TOKEN = "t0ken-Sécret"
PASSWORD = "pa:ss-wörd"
ENV = {"CCCI_WEB_TOKEN": TOKEN, "CCCI_WEB_PASSWORD": PASSWORD}
BEARER = WebAuthConfig(bearer_token_env="CCCI_WEB_TOKEN")
BASIC = WebAuthConfig(basic_user="ops", basic_password_env="CCCI_WEB_PASSWORD")

Scenario = Callable[[TestClient[web.Request, web.Application], list[str]], Awaitable[None]]


def make_app(middlewares: list[Middleware], called: list[str]) -> web.Application:
    async def page(request: web.Request) -> web.Response:
        called.append(f"{request.method} {request.path}")
        return web.Response(text="page")

    async def cached(request: web.Request) -> web.Response:
        return web.Response(text="cached", headers={"Cache-Control": "max-age=60"})

    async def refused(request: web.Request) -> web.Response:
        raise web.HTTPBadRequest(text="bad")

    async def crash(request: web.Request) -> web.Response:
        raise RuntimeError("boom")

    app = web.Application(middlewares=middlewares)
    app.router.add_get("/runs/{run_id}", page)
    app.router.add_post("/runs/{run_id}", page)  # a route that would take it: the middleware must refuse first
    app.router.add_get("/cached", cached)
    app.router.add_get("/refused", refused)
    app.router.add_get("/crash", crash)
    app.router.add_get("/healthz", page)
    app.router.add_post("/hooks/x", page)
    return app


def run(middlewares: list[Middleware], scenario: Scenario) -> list[str]:
    called: list[str] = []

    async def main() -> None:
        async with TestClient(TestServer(make_app(middlewares, called))) as client:
            await scenario(client, called)

    asyncio.run(main())
    return called


def assert_secured(response: ClientResponse, cache: str = "no-store") -> None:
    assert response.headers["Content-Security-Policy"] == CSP
    assert "default-src 'none'" in CSP and "frame-ancestors 'none'" in CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == cache


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_security_headers_on_pages_errors_and_refusals() -> None:
    async def scenario(client: TestClient[web.Request, web.Application], called: list[str]) -> None:
        ok = await client.get("/runs/1")
        assert ok.status == 200 and await ok.text() == "page"
        assert_secured(ok)
        missing = await client.get("/nowhere")
        assert missing.status == 404
        assert_secured(missing)
        not_allowed = await client.post("/runs/1")
        assert not_allowed.status == 405
        assert_secured(not_allowed)
        wrong_method_on_hook = await client.put("/hooks/x")
        assert wrong_method_on_hook.status == 405
        assert_secured(wrong_method_on_hook)
        raised = await client.get("/refused")
        assert raised.status == 400 and await raised.text() == "bad"
        assert_secured(raised)
        crashed = await client.get("/crash")
        assert crashed.status == 500 and "boom" not in await crashed.text()
        assert_secured(crashed)
        kept = await client.get("/cached")
        assert kept.status == 200
        assert_secured(kept, cache="max-age=60")

    run([security_headers, read_only], scenario)


def test_only_get_and_head_reach_pages_but_the_hook_takes_a_post() -> None:
    async def scenario(client: TestClient[web.Request, web.Application], called: list[str]) -> None:
        for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
            refused = await client.request(method, "/runs/1")
            assert refused.status == 405, method
            assert refused.headers["Allow"] == "GET, HEAD"
        assert called == []
        head = await client.head("/runs/1")
        assert head.status == 200
        hook = await client.post("/hooks/x", data=b"{}")
        assert hook.status == 200 and await hook.text() == "page"
        assert called == ["HEAD /runs/1", "POST /hooks/x"]

    run([security_headers, read_only], scenario)


def test_bearer_token() -> None:
    async def scenario(client: TestClient[web.Request, web.Application], called: list[str]) -> None:
        none = await client.get("/runs/1")
        assert none.status == 401
        assert none.headers["WWW-Authenticate"] == 'Bearer realm="ccci-bot"'
        assert_secured(none)
        wrong = await client.get("/runs/1", headers=bearer("guess-123"))
        assert wrong.status == 401 and "guess-123" not in await wrong.text()
        prefix = await client.get("/runs/1", headers=bearer(TOKEN[:-1]))
        assert prefix.status == 401
        as_basic = await client.get("/runs/1", headers=basic("ops", TOKEN))
        assert as_basic.status == 401
        assert called == []
        right = await client.get("/runs/1", headers=bearer(TOKEN))
        assert right.status == 200 and await right.text() == "page"
        lower = await client.get("/runs/2", headers={"Authorization": f"bearer {TOKEN}"})
        assert lower.status == 200
        assert called == ["GET /runs/1", "GET /runs/2"]

    run(security_middlewares(BEARER, ENV), scenario)


def test_basic_auth() -> None:
    async def scenario(client: TestClient[web.Request, web.Application], called: list[str]) -> None:
        none = await client.get("/runs/1")
        assert none.status == 401
        assert none.headers["WWW-Authenticate"] == 'Basic realm="ccci-bot"'
        wrong_user = await client.get("/runs/1", headers=basic("root", PASSWORD))
        assert wrong_user.status == 401
        wrong_password = await client.get("/runs/1", headers=basic("ops", "hunter2"))
        assert wrong_password.status == 401 and "hunter2" not in await wrong_password.text()
        no_colon = await client.get("/runs/1", headers={"Authorization": "Basic " + base64.b64encode(b"ops").decode()})
        assert no_colon.status == 401
        garbage = await client.get("/runs/1", headers={"Authorization": "Basic !!!not-base64"})
        assert garbage.status == 401
        as_bearer = await client.get("/runs/1", headers=bearer(PASSWORD))
        assert as_bearer.status == 401
        assert called == []
        right = await client.get("/runs/1", headers=basic("ops", PASSWORD))  # a colon in the password is fine
        assert right.status == 200
        assert called == ["GET /runs/1"]

    run(security_middlewares(BASIC, ENV), scenario)


def test_either_credential_when_both_are_configured() -> None:
    both = WebAuthConfig(bearer_token_env="CCCI_WEB_TOKEN", basic_user="ops", basic_password_env="CCCI_WEB_PASSWORD")

    async def scenario(client: TestClient[web.Request, web.Application], called: list[str]) -> None:
        none = await client.get("/runs/1")
        assert none.status == 401 and none.headers["WWW-Authenticate"] == 'Basic realm="ccci-bot"'
        assert (await client.get("/runs/1", headers=bearer(TOKEN))).status == 200
        assert (await client.get("/runs/2", headers=basic("ops", PASSWORD))).status == 200
        assert (await client.get("/runs/3", headers=basic("ops", TOKEN))).status == 401

    run(security_middlewares(both, ENV), scenario)


def test_health_and_hook_routes_are_exempt_but_unrouted_hook_paths_are_not() -> None:
    async def scenario(client: TestClient[web.Request, web.Application], called: list[str]) -> None:
        health = await client.get("/healthz")
        assert health.status == 200
        hook = await client.post("/hooks/x")
        assert hook.status == 200
        assert called == ["GET /healthz", "POST /hooks/x"]
        # Exemption follows the route that matched, not how the path starts.
        unrouted = await client.get("/hooks/other")
        assert unrouted.status == 401
        assert called == ["GET /healthz", "POST /hooks/x"]

    run(security_middlewares(BASIC, ENV), scenario)


def test_secrets_are_read_from_the_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCCI_WEB_TOKEN", "from-os-environ")
    middleware = make_auth(BEARER)
    assert middleware is not None

    async def scenario(client: TestClient[web.Request, web.Application], called: list[str]) -> None:
        assert (await client.get("/runs/1", headers=bearer("from-os-environ"))).status == 200
        assert (await client.get("/runs/1", headers=bearer(TOKEN))).status == 401

    run([middleware], scenario)


def test_no_auth_configured_means_no_middleware() -> None:
    assert make_auth(WebAuthConfig(), ENV) is None
    assert make_auth(WebAuthConfig(basic_user="ops"), ENV) is None  # a user without a password enables nothing
    assert security_middlewares(WebAuthConfig(), ENV) == [security_headers, read_only]


@pytest.mark.parametrize(
    ("auth", "environ", "message"),
    [
        (BEARER, {}, "web.auth.bearer_token_env: environment variable CCCI_WEB_TOKEN is not set"),
        (BASIC, {"CCCI_WEB_TOKEN": TOKEN}, "web.auth.basic_password_env: environment variable CCCI_WEB_PASSWORD"),
        (BEARER, {"CCCI_WEB_TOKEN": ""}, "web.auth.bearer_token_env: environment variable CCCI_WEB_TOKEN is empty"),
        (WebAuthConfig(basic_password_env="CCCI_WEB_PASSWORD"), ENV, "web.auth.basic_user: required"),
    ],
)
def test_unusable_auth_settings_are_config_errors(
    auth: WebAuthConfig, environ: Mapping[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        make_auth(auth, environ)
    assert message in str(caught.value)
