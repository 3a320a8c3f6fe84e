"""The bot's HTTP server, in its event loop: the run-finished webhook (and the evidence pages)."""

from __future__ import annotations

import logging

from aiohttp import web

log = logging.getLogger(__name__)


def split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


async def start_server(app: web.Application, listen: str) -> web.AppRunner:
    """Serve ``app`` on ``host:port``; the caller cleans up the returned runner on shutdown."""
    # handler_cancellation: a client that goes away cancels its handler, which stops its file work
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
    await runner.setup()
    host, port = split_listen(listen)
    site = web.TCPSite(runner, host, port)
    await site.start()
    log.info("HTTP server listening on %s", listen)
    return runner
