"""The probes' one way onto the network: a single HTTP request, its answer or why there was none.

Synchronous (the facts are gathered in a worker thread, and the CLI blocks anyway), on the standard
library: a HEAD and a token GET need no more. Redirects are not followed, so a credential never goes
to a host it was not meant for; proxies come from the environment, as for Docker's client, and are
not used for loopback addresses.
Every request of every probe goes through :func:`request` (the test suite wraps it to allow loopback
only).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from http.client import HTTPException
from typing import IO, Any
from urllib.parse import urlsplit

from bot.errors import Transient

MAX_BODY = 64 * 1024  # a token answer is a few KB; nothing bigger is read
USER_AGENT = "ccci-bot-probe"


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: its status, headers (lower-case names) and the start of its body."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


class NoAnswer(Transient):
    """No HTTP answer: the connection, the name, TLS or the timeout failed. The message says which."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx comes back as an answer


_OPENER = urllib.request.build_opener(_NoRedirects)  # proxies from the environment
_DIRECT = urllib.request.build_opener(_NoRedirects, urllib.request.ProxyHandler({}))  # loopback: never a proxy
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def request(method: str, url: str, headers: Mapping[str, str], timeout: float) -> Answer:
    """One request to an ``http(s)`` URL; :class:`NoAnswer` when nothing answered."""
    if not url.startswith(("https://", "http://")):
        raise NoAnswer(f"not an http(s) URL: {url}")
    req = urllib.request.Request(url, method=method, headers={"User-Agent": USER_AGENT, **headers})  # noqa: S310 - scheme checked above
    opener = _DIRECT if urlsplit(url).hostname in LOOPBACK else _OPENER  # as Go's clients (Docker's) do
    try:
        with opener.open(req, timeout=timeout) as resp:
            return _answer(resp.status, resp.headers, resp)
    except urllib.error.HTTPError as exc:  # a 4xx/5xx (or a 3xx not followed) is an answer
        try:
            return _answer(exc.code, exc.headers, exc)
        finally:
            exc.close()
    except urllib.error.URLError as exc:
        raise NoAnswer(str(exc.reason)) from exc
    except TimeoutError as exc:
        raise NoAnswer(f"no answer within {timeout:g} s") from exc
    except (OSError, HTTPException, ValueError) as exc:
        raise NoAnswer(f"{type(exc).__name__}: {exc}") from exc


def _answer(status: int, headers: Message, body: IO[bytes]) -> Answer:
    try:
        data = body.read(MAX_BODY)
    except (OSError, HTTPException):
        data = b""
    return Answer(status, {k.lower(): v for k, v in headers.items()}, data)
