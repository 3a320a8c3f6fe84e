"""What a flood of hostile connections makes the server log: one line and a count, not a traceback each.

* ``accept()`` out of descriptors: asyncio logs "socket.accept() out of system resource" with a
  traceback for every attempt and (python/cpython#151615) keeps trying the rest of its backlog in the
  same turn, each try scheduling another retry: 1.35 million tracebacks, 600 MB, in three minutes
  (issue 25). The connection cap keeps the server's own connections far from the limit;
  :class:`AcceptErrors` keeps the log readable when something else exhausts it.
* Malformed requests: aiohttp answers them 400 and logs each at ERROR with a traceback ("Error handling
  request"), so anyone could write tracebacks into the journal at line rate. :func:`request_logger`
  counts those; every other record of aiohttp's (a handler's unexpected error) is logged as before.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError

from bot.web.tally import Tally

log = logging.getLogger(__name__)

OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


def is_accept_failure(context: dict[str, Any]) -> bool:
    exc = context.get("exception")
    message = str(context.get("message", ""))
    return message.startswith("socket.accept()") or (
        isinstance(exc, OSError) and exc.errno in OUT_OF_RESOURCES and "socket" in context
    )


class AcceptErrors:
    """The loop's exception handler while the HTTP server runs; :meth:`close` puts the previous one back."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.previous = loop.get_exception_handler()
        self.tally = Tally(
            log, "the HTTP server could not accept a connection (out of file descriptors?)", logging.ERROR
        )
        loop.set_exception_handler(self)

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if is_accept_failure(context):
            exc = context.get("exception")
            self.tally.add(str(exc) if exc is not None else str(context.get("message")))
        elif self.previous is not None:
            self.previous(loop, context)
        else:
            loop.default_exception_handler(context)

    def close(self) -> None:
        if self.loop.get_exception_handler() is self:
            self.loop.set_exception_handler(self.previous)
        self.tally.close()


class MalformedRequests(logging.Filter):
    """Drops aiohttp's record of a request its parser refused (a 400), counting it instead."""

    def __init__(self) -> None:
        super().__init__()
        self.tally = Tally(log, "malformed requests answered 400")

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError):
            return True
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        self.tally.add(f"{type(exc).__name__}: {first_line[:200]}")
        return False

    def close(self) -> None:
        self.tally.close()


def request_logger(malformed: MalformedRequests) -> logging.Logger:
    """A logger for aiohttp's request handlers: named and placed like ``aiohttp.server``, with ``malformed`` on
    it. It is this server's own (not registered by name), so two servers in one process keep their counts."""
    logger = logging.Logger("aiohttp.server")
    logger.parent = logging.getLogger("aiohttp.server")
    logger.addFilter(malformed)
    return logger
