"""systemd's notify protocol: READY, STATUS, WATCHDOG and STOPPING datagrams to ``$NOTIFY_SOCKET``.

The protocol is one datagram of ``KEY=value`` lines to a unix socket (a path, or an abstract name
written with a leading ``@``), so a few lines here replace a dependency. Without ``NOTIFY_SOCKET``
every call does nothing: the bot behaves exactly as outside systemd.

The watchdog is fed by a task in the bot's own event loop, never by a thread: if the loop hangs, the
pings stop and systemd restarts the service (``WatchdogSec=`` in the unit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
from collections.abc import Mapping

log = logging.getLogger(__name__)


def socket_address(value: str) -> str | bytes:
    """``@name`` is Linux's abstract namespace (a leading NUL byte); anything else is a path."""
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    return value


def watchdog_interval(environ: Mapping[str, str]) -> float | None:
    """Half of ``WATCHDOG_USEC`` in seconds, as sd_watchdog_enabled(3) advises; None when not asked for.

    ``WATCHDOG_PID``, when set, must be this process: the variable may be inherited by a child.
    """
    usec = environ.get("WATCHDOG_USEC", "")
    pid = environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid != str(os.getpid()):
        return None
    return int(usec) / 1_000_000 / 2


class Notifier:
    """Sends notify datagrams; a no-op when the service manager did not ask for them."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        value = env.get("NOTIFY_SOCKET", "")
        self.address = socket_address(value) if value else None
        self.watchdog_s = watchdog_interval(env) if self.address is not None else None
        self._sock: socket.socket | None = None
        if self.address is not None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def send(self, **fields: str) -> bool:
        """One datagram, e.g. ``send(READY="1", STATUS="…")``; failures are logged, never raised."""
        if self._sock is None or self.address is None:
            return False
        message = "\n".join(f"{key}={value}" for key, value in fields.items())
        try:
            self._sock.sendto(message.encode(), self.address)
        except OSError as exc:
            log.warning("sd_notify to %r failed: %s", self.address, exc)
            return False
        return True

    def ready(self, status: str) -> None:
        self.send(READY="1", STATUS=one_line(status))

    def status(self, status: str) -> None:
        self.send(STATUS=one_line(status))

    def stopping(self, status: str = "stopping") -> None:
        self.send(STOPPING="1", STATUS=one_line(status))

    async def feed_watchdog(self, stop: asyncio.Event) -> None:
        """``WATCHDOG=1`` every half period until ``stop``; runs in the loop it vouches for."""
        if self.watchdog_s is None:
            return
        while not stop.is_set():
            self.send(WATCHDOG="1")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.watchdog_s)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def exit_deadline(seconds: float, code: int) -> threading.Timer:
    """After a stop, end the process with ``code`` if it is still here in ``seconds``.

    asyncio waits for its worker threads before the process can exit, and a thread stuck in I/O
    (a hung NFS read, a FIFO) would hold a stopping bot past systemd's TimeoutStopSec into SIGKILL.
    Everything the bot promises is in SQLite by then, so leaving the thread behind loses nothing.
    """

    def leave() -> None:
        log.warning("worker threads still busy %.0f s after the stop; exiting anyway", seconds)
        for handler in logging.getLogger().handlers:
            handler.flush()
        os._exit(code)

    timer = threading.Timer(seconds, leave)
    timer.daemon = True
    timer.start()
    return timer


def one_line(text: str) -> str:
    """STATUS= is one line: newlines would start new fields."""
    return " ".join(text.split())[:200]
