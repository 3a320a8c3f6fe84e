"""``POST /hooks/run-finished``: cc-ci (or anything holding the secret) says a run finished.

The body is authenticated with HMAC-SHA256 under a shared secret, sent as ``X-Ccci-Signature:
sha256=<hex>`` (GitHub's scheme). A request without a valid signature is refused before anything
happens; a valid one only wakes the scan — the runs dir stays the source of truth, so a forged or
replayed notification can at worst cause an early scan.

The whole body is read before it is checked, however it arrives (in pieces, chunked), up to
``MAX_BODY`` and within the body timeout; the signature is compared as bytes, so a header that is not
ASCII is a wrong signature (401), never an error.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import Callable

from aiohttp import web

from bot.web.tally import Tally

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Ccci-Signature"
MAX_BODY = 64 * 1024
BODY_TIMEOUT_S = 10.0


class BodyTooLarge(Exception):
    pass


def sign(secret: str, body: bytes) -> str:
    """The header value a sender puts on ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def valid(secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` signs ``body``; any malformed header (absent, not ASCII, wrong form) is just False."""
    if header is None:
        return False
    given = header.strip()
    if not given.isascii():  # compare_digest refuses non-ASCII str; as bytes it could never match anyway
        return False
    return hmac.compare_digest(sign(secret, body).encode("ascii"), given.encode("ascii"))


async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole body (Content-Length or chunked, however many TCP pieces), or BodyTooLarge past ``limit``."""
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge
    body = bytearray()
    async for chunk in request.content.iter_any():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge
    return bytes(body)


def hook_routes(
    secret: str, on_run_finished: Callable[[], None], body_timeout_s: float = BODY_TIMEOUT_S
) -> list[web.RouteDef]:
    """Routes for the bot's server; ``on_run_finished`` wakes the scan (it must not block)."""
    if not secret:  # an HMAC under an empty key is no check at all
        raise ValueError("the run-finished hook needs a non-empty secret")
    refused = Tally(log, "refused run-finished hooks: bad or missing signature")

    async def run_finished(request: web.Request) -> web.Response:
        try:
            async with asyncio.timeout(body_timeout_s):
                body = await read_body(request, MAX_BODY)
        except BodyTooLarge:
            return web.json_response({"error": f"body over {MAX_BODY} bytes"}, status=413)
        except TimeoutError:
            return web.json_response(
                {"error": f"the body did not arrive within {body_timeout_s:g} s (web.client_timeout_s)"}, status=408
            )
        if not valid(secret, body, request.headers.get(SIGNATURE_HEADER)):
            refused.add(f"from {request.remote}")
            return web.json_response(
                {"error": f"bad or missing {SIGNATURE_HEADER} (sha256=HMAC-SHA256 of the body)"}, status=401
            )
        on_run_finished()
        return web.json_response({"ok": True, "scan": "scheduled"}, status=202)

    return [web.post("/hooks/run-finished", run_finished)]
