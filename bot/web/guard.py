"""Slow and idle clients cannot hold the HTTP server: a deadline for each request's headers, a cap on connections.

Nothing in aiohttp bounds the time a client takes to send its headers on every version the bot
supports: ``keepalive_timeout`` runs between requests, and before aiohttp 3.14 a connection that never
completes its first request stays open for ever (aio-libs/aiohttp#13681). Auth cannot help: it runs
after the headers. So 1,100 connections that each sent half a request held every descriptor of the
process (issue 25). Each connection therefore passes through :class:`_Guarded`, a thin
``asyncio.Protocol`` around aiohttp's own, and :meth:`ConnectionGuard.middleware` (outermost) tells the
guard when a request has reached the application, i.e. its headers are complete:

* **Deadline.** A connection must start a request within ``timeout_s`` of connecting, or of the end of
  its previous request (keep-alive), or it is closed. Trickling a byte a second does not extend it.
* **Cap.** At most ``cap`` connections are open. One more closes the connection idle longest (not in a
  request, nothing left to send), so stalled connections cannot lock people out — but only one idle for
  a tenth of the deadline at least, so a burst of real clients does not close each other's connections
  before their requests are read. With none to close, the newcomer gets a 503 and is closed at once.

Each kind of drop is logged once, then counted (:class:`~bot.web.tally.Tally`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.web.tally import Tally

log = logging.getLogger(__name__)

BUSY_BODY = b"The server is at web.max_connections and every connection is busy; try again shortly.\n"
BUSY_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nRetry-After: 5\r\n"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(BUSY_BODY), BUSY_BODY)
)


class ConnectionGuard:
    def __init__(self, cap: int, timeout_s: float, cap_source: str = "web.max_connections") -> None:
        self.cap = cap
        self.timeout_s = timeout_s
        self.grace_s = timeout_s / 10  # a connection this young is never closed to make room
        # Insertion order is idle order: a connection moves to the end when its request ends, so the
        # first evictable entry is the one idle longest.
        self.connections: dict[_Guarded, None] = {}
        self.by_transport: dict[asyncio.BaseTransport, _Guarded] = {}
        self.slow = Tally(
            log, f"closed connections with no complete request within {timeout_s:g} s (web.client_timeout_s)"
        )
        self.evicted = Tally(log, f"at {cap} connections ({cap_source}): closed the one idle longest")
        self.refused = Tally(log, f"at {cap} connections ({cap_source}), all in use: answered 503")

    def protocol_factory(self, make: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        """Wrap aiohttp's protocol factory (``runner.server``) for ``loop.create_server``."""

        def accept() -> asyncio.Protocol:
            if len(self.connections) >= self.cap and not self._evict_one():
                self.refused.add(f"none idle for {self.grace_s:g} s")
                return _Busy()
            guarded = _Guarded(self, make())
            self.connections[guarded] = None  # counted from now: a burst of accepts cannot overshoot the cap
            return guarded

        return accept

    def _evict_one(self) -> bool:
        for conn in self.connections:  # idle order, oldest first: the first idle one decides
            if conn.idle():
                if conn.idle_for() < self.grace_s:
                    return False
                self.evicted.add(f"it had been idle {conn.idle_for():.1f} s")
                conn.close()
                return True
        return False

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Marks the connection as in a request (its headers are complete) until the handler returns."""
        conn = self.by_transport.get(request.transport) if request.transport is not None else None
        if conn is None:
            return await handler(request)
        conn.begin()
        try:
            return await handler(request)
        finally:
            conn.end()

    def _made(self, conn: _Guarded, transport: asyncio.BaseTransport) -> None:
        self.by_transport[transport] = conn

    def _lost(self, conn: _Guarded) -> None:
        self.connections.pop(conn, None)
        if conn.transport is not None:
            self.by_transport.pop(conn.transport, None)

    def _idle_again(self, conn: _Guarded) -> None:
        if conn in self.connections:
            del self.connections[conn]
            self.connections[conn] = None

    def close(self) -> None:
        for conn in list(self.connections):
            conn.cancel_timer()
        for tally in (self.slow, self.evicted, self.refused):
            tally.close()


class _Guarded(asyncio.Protocol):
    """aiohttp's protocol, with a deadline for each request's headers; everything else is passed through."""

    def __init__(self, guard: ConnectionGuard, inner: asyncio.Protocol) -> None:
        self.guard = guard
        self.inner = inner
        self.transport: asyncio.Transport | None = None
        self.in_request = 0
        self.timer: asyncio.TimerHandle | None = None
        self.closed = False
        self.doomed = False  # evicted before asyncio made the connection: closed as soon as it is
        self.idle_since = asyncio.get_running_loop().time()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if self.doomed:  # aiohttp never sees it
            self.closed = True
            transport.close()
            return
        self.guard._made(self, transport)
        self._arm()
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if not self.doomed:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return None if self.doomed else self.inner.eof_received()

    def pause_writing(self) -> None:
        if not self.doomed:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if not self.doomed:
            self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.cancel_timer()
        self.guard._lost(self)
        if not self.doomed:
            self.inner.connection_lost(exc)

    # --- the deadline ------------------------------------------------------------------------------

    def begin(self) -> None:
        self.in_request += 1
        self.cancel_timer()

    def end(self) -> None:
        self.in_request -= 1
        if not self.in_request and not self.closed:
            self.idle_since = asyncio.get_running_loop().time()
            self.guard._idle_again(self)
            self._arm()

    def idle(self) -> bool:
        """Not in a request and nothing left to send (or not even made yet): closing it loses nobody anything."""
        if self.in_request or self.closed or self.doomed:
            return False
        if self.transport is None:
            return True
        return not self.transport.is_closing() and self.transport.get_write_buffer_size() == 0

    def idle_for(self) -> float:
        return asyncio.get_running_loop().time() - self.idle_since

    def _arm(self) -> None:
        self.cancel_timer()
        self.timer = asyncio.get_running_loop().call_later(self.guard.timeout_s, self._expire)

    def _expire(self) -> None:
        self.timer = None
        if self.in_request or self.closed:
            return
        if not self.idle():  # a response is still being sent (a slow reader): not a slow request
            self._arm()
            return
        self.guard.slow.add(f"from {self.peer()}")
        self.close()

    def peer(self) -> str:
        peer = self.transport.get_extra_info("peername") if self.transport is not None else None
        return str(peer[0]) if isinstance(peer, tuple) and peer else "an unknown address"

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def close(self) -> None:
        """Close now and stop counting it (the descriptor is freed on the loop's next turn)."""
        self.cancel_timer()
        self.guard.connections.pop(self, None)
        if self.transport is None:
            self.doomed = True
        elif not self.closed:
            self.transport.close()  # connection_lost follows, and aiohttp's protocol cleans up there


class _Busy(asyncio.Protocol):
    """A connection over the cap when every connection is in a request: a 503, then closed."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(BUSY_RESPONSE)
        transport.close()
