"""Middlewares every evidence page goes through: security headers, read-only methods, optional auth.

The pages show CI logs, which are attacker-influenced text (a test can print anything), so the
browser is told to run nothing, embed nothing and send nothing elsewhere. Only the webhook accepts a
POST, and it authenticates itself (HMAC), so it is exempt from the method check and from page auth.
Exemptions go by the route aiohttp matched, never by the raw path: a path that merely starts with
``/hooks/`` but reaches another handler (``/hooks%2F..%2Fruns/…``) is not exempt.

Order them ``security_middlewares(...)`` returns them: headers outermost, so even a 401, a 405 or an
error page carries them.
"""

from __future__ import annotations

import base64
import hmac
import logging
from collections.abc import Mapping

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from bot.config import ConfigError, WebAuthConfig, secret_from_env

log = logging.getLogger(__name__)

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
HOOKS_PREFIX = "/hooks/"
HEALTH_PATH = "/healthz"
REALM = "ccci-bot"
READ_METHODS = ("GET", "HEAD")


def apply_headers(response: web.StreamResponse) -> None:
    """Set the security headers; Cache-Control only when the handler chose none (pages are not cached)."""
    response.headers.update(SECURITY_HEADERS)
    response.headers.setdefault("Cache-Control", "no-store")


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Headers on every response: returned, raised as HTTPException, or an unexpected error's 500.

    A handler that prepares (streams) its response itself sends its headers before this sees it; such
    a handler must call :func:`apply_headers` before ``prepare``.
    """
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        apply_headers(exc)
        raise
    except Exception:
        log.exception("error handling %s %r", request.method, request.path)
        response = web.Response(status=500, text="500: Internal Server Error")
    if not response.prepared:
        apply_headers(response)
    return response


def _route_path(request: web.Request) -> str | None:
    """The matched route's path pattern (``/hooks/run-finished``, ``/runs/{run_id}``); None if none matched."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else None


def _is_hook(request: web.Request) -> bool:
    path = _route_path(request)
    return path is not None and path.startswith(HOOKS_PREFIX)


@web.middleware
async def read_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Pages are read-only: only GET and HEAD reach them; the webhook routes may take a POST."""
    if request.method in READ_METHODS or (request.method == "POST" and _is_hook(request)):
        return await handler(request)
    return web.Response(status=405, text="405: Method Not Allowed", headers={"Allow": ", ".join(READ_METHODS)})


def _secret(var_name: str | None, key: str, environ: Mapping[str, str] | None) -> bytes | None:
    value = secret_from_env(var_name, key, environ)
    if value == "":
        # An empty secret would let an empty credential in.
        raise ConfigError(f"{key}: environment variable {var_name} is empty")
    return value.encode() if value is not None else None


def make_auth(auth: WebAuthConfig, environ: Mapping[str, str] | None = None) -> Middleware | None:
    """The auth middleware, or None when no auth is configured.

    Secrets are read once, here: a missing or empty variable is a :class:`ConfigError` at start, not a
    401 for everyone later. ``/healthz`` and the webhook routes are exempt.
    """
    if not auth.enabled:
        return None
    token = _secret(auth.bearer_token_env, "web.auth.bearer_token_env", environ)
    password = _secret(auth.basic_password_env, "web.auth.basic_password_env", environ)
    if password is not None and not auth.basic_user:
        raise ConfigError("web.auth.basic_user: required with web.auth.basic_password_env")
    user = (auth.basic_user or "").encode()
    challenge = f'Basic realm="{REALM}"' if password is not None else f'Bearer realm="{REALM}"'

    def accepted(header: str) -> bool:
        scheme, _, credential = header.strip().partition(" ")
        credential = credential.strip()
        if token is not None and scheme.lower() == "bearer":
            try:
                given = credential.encode("utf-8", "surrogateescape")  # a header aiohttp could not decode
            except UnicodeEncodeError:
                return False
            return hmac.compare_digest(given, token)
        if password is not None and scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credential, validate=True)
            except ValueError:  # not base64, or not ASCII
                return False
            given_user, colon, given_password = decoded.partition(b":")
            user_ok = hmac.compare_digest(given_user, user)
            password_ok = hmac.compare_digest(given_password, password)  # both compared: no early exit
            return bool(colon) and user_ok and password_ok
        return False

    @web.middleware
    async def require_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if _route_path(request) == HEALTH_PATH or _is_hook(request):
            return await handler(request)
        header = request.headers.get("Authorization")
        if header is not None and accepted(header):
            return await handler(request)
        log.info(
            "refused %s %r from %s: %s",
            request.method,
            request.path,
            request.remote,
            "bad credentials" if header else "no credentials",
        )
        return web.Response(status=401, text="401: authentication required", headers={"WWW-Authenticate": challenge})

    return require_auth


def security_middlewares(auth: WebAuthConfig, environ: Mapping[str, str] | None = None) -> list[Middleware]:
    """All three, in the order the app needs them (headers outermost)."""
    checked = make_auth(auth, environ)
    return [security_headers, read_only, *([checked] if checked is not None else [])]
