"""The bot's HTTP server, in its event loop: the run-finished webhook (and the evidence pages).

It shares the process with Matrix sync, the scan and SQLite, so hostile clients must not be able to
take those down: every connection goes through :class:`~bot.web.guard.ConnectionGuard` (a deadline
for each request's headers, a cap on connections below the open-files limit), and out-of-descriptor
``accept()`` errors and malformed requests are logged once and counted (:mod:`bot.web.floodlog`).
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from bot.config import WebConfig
from bot.fdlimit import BACKLOG, connection_cap
from bot.web.floodlog import AcceptErrors, MalformedRequests, request_logger
from bot.web.guard import ConnectionGuard

log = logging.getLogger(__name__)


def split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


class WebServer:
    """A running server; :meth:`cleanup` stops listening, closes every connection and puts the loop back."""

    def __init__(
        self,
        runner: web.AppRunner,
        listener: asyncio.Server,
        guard: ConnectionGuard,
        accept_errors: AcceptErrors,
        malformed: MalformedRequests,
    ) -> None:
        self.runner = runner
        self.listener = listener
        self.guard = guard
        self.accept_errors = accept_errors
        self.malformed = malformed

    async def cleanup(self) -> None:
        self.listener.close()  # no new connections; aiohttp's shutdown then closes the open ones
        try:
            await self.runner.cleanup()
        finally:
            self.guard.close()
            self.accept_errors.close()
            self.malformed.close()


async def start_server(app: web.Application, listen: str, settings: WebConfig | None = None) -> WebServer:
    """Serve ``app`` on ``host:port`` with ``settings``' limits; the caller cleans up what it returns."""
    settings = settings or WebConfig()
    cap = connection_cap(settings.max_connections)
    source = "web.max_connections" if cap == settings.max_connections else "what the open-files limit leaves"
    guard = ConnectionGuard(cap, settings.client_timeout_s, source)
    app.middlewares.insert(0, guard.middleware)  # outermost: a request counts from its first middleware
    # handler_cancellation: a client that goes away cancels its handler, which stops its file work.
    # keepalive_timeout: aiohttp's own idle limit between requests, a fallback behind the guard's deadline.
    # logger: aiohttp's, but a malformed request (a 400) is counted, not logged with a traceback each.
    malformed = MalformedRequests()
    runner = web.AppRunner(
        app,
        access_log=None,
        handler_cancellation=True,
        keepalive_timeout=2 * settings.client_timeout_s,
        logger=request_logger(malformed),
    )
    await runner.setup()
    assert runner.server is not None  # set by setup()
    host, port = split_listen(listen)
    loop = asyncio.get_running_loop()
    try:
        listener = await loop.create_server(
            guard.protocol_factory(runner.server), host, port, backlog=BACKLOG, reuse_address=True
        )
    except BaseException:
        await runner.cleanup()
        raise
    accept_errors = AcceptErrors(loop)
    log.info(
        "HTTP server listening on %s (at most %d connections; headers within %g s)",
        listen,
        guard.cap,
        guard.timeout_s,
    )
    return WebServer(runner, listener, guard, accept_errors, malformed)
