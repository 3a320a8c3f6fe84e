"""``POST /hooks/run-finished``: cc-ci (or anything holding the secret) says a run finished.

The body is authenticated with HMAC-SHA256 under a shared secret, sent as ``X-Ccci-Signature:
sha256=<hex>`` (GitHub's scheme). A request without a valid signature is refused before anything
happens; a valid one only wakes the scan — the runs dir stays the source of truth, so a forged or
replayed notification can at worst cause an early scan.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable

from aiohttp import web

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Ccci-Signature"
MAX_BODY = 64 * 1024


def sign(secret: str, body: bytes) -> str:
    """The header value a sender puts on ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def valid(secret: str, body: bytes, header: str | None) -> bool:
    return header is not None and hmac.compare_digest(sign(secret, body), header.strip())


def hook_routes(secret: str, on_run_finished: Callable[[], None]) -> list[web.RouteDef]:
    """Routes for the bot's server; ``on_run_finished`` wakes the scan (it must not block)."""
    if not secret:  # an HMAC under an empty key is no check at all
        raise ValueError("the run-finished hook needs a non-empty secret")

    async def run_finished(request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > MAX_BODY:
            return web.json_response({"error": f"body over {MAX_BODY} bytes"}, status=413)
        body = await request.content.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            return web.json_response({"error": f"body over {MAX_BODY} bytes"}, status=413)
        if not valid(secret, body, request.headers.get(SIGNATURE_HEADER)):
            log.warning("refused a run-finished hook from %s: bad or missing signature", request.remote)
            return web.json_response(
                {"error": f"bad or missing {SIGNATURE_HEADER} (sha256=HMAC-SHA256 of the body)"}, status=401
            )
        on_run_finished()
        return web.json_response({"ok": True, "scan": "scheduled"}, status=202)

    return [web.post("/hooks/run-finished", run_finished)]
