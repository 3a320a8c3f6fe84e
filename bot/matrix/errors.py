"""What can go wrong talking to the homeserver, as the two exceptions the bot acts on.

:class:`Unavailable`: retry with backoff. :class:`MatrixError`: a refusal that retrying will not fix.
Imports no nio at run time, so the doctor can share the refusal codes without loading the client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp

from bot.errors import Failure, Transient

if TYPE_CHECKING:
    from nio import ErrorResponse

# Failures of the connection itself (nio raises them; it is configured not to retry on its own).
TRANSIENT = (aiohttp.ClientError, TimeoutError, ConnectionError, OSError)
# Error codes that refuse the credentials or the account themselves: retrying cannot help.
REFUSALS = frozenset({"M_UNKNOWN_TOKEN", "M_MISSING_TOKEN", "M_FORBIDDEN", "M_USER_DEACTIVATED"})


class Unavailable(Transient):
    """The homeserver could not be reached or answered 5xx: try again later."""


class MatrixError(Failure):
    """The homeserver refused (bad token, forbidden, unknown room): retrying will not help."""


def http_status(resp: ErrorResponse) -> int | None:
    transport = getattr(resp, "transport_response", None)
    return int(transport.status) if transport is not None else None


def is_transient(resp: ErrorResponse) -> bool:
    """An error answer to retry: 5xx or 429 (the homeserver, or a proxy in front of it, having a bad
    moment) — never a 401/403 or an error code that refuses the credentials."""
    status = http_status(resp)
    if resp.status_code in REFUSALS or status in (401, 403):
        return False
    return status is None or status >= 500 or status == 429


def described(resp: ErrorResponse) -> str:
    return " ".join(str(p) for p in (http_status(resp), resp.status_code, resp.message) if p)


def raise_unless_refused(resp: ErrorResponse, what: str, homeserver: str | None) -> None:
    """:class:`Unavailable` when the error is the homeserver's (or a proxy's) moment, not a refusal:
    an operator may rotate a good token during a proxy blip, and the bot must not exit for it."""
    if is_transient(resp):
        raise Unavailable(
            f"homeserver {homeserver} answered {what} with {described(resp) or 'an error'}"
            " (the homeserver or a proxy in front of it, not the credentials)"
        )
