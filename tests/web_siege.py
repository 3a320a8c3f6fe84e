"""Hostile clients for the real HTTP server (issue 25, items 8 and 11), for tests and benchmarks/web_siege.py.

Everything talks to a real server on 127.0.0.1 over raw sockets: connections that send half a request
and stop, requests written in pieces, and `ccci-bot web` as a real process under a lowered open-files
limit (``resource.setrlimit`` in the child, so a few hundred sockets exhaust it).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import resource
import selectors
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from bot.config import WebConfig
from bot.web.server import start_server
from demo.devserver.process import free_port

PARTIAL_HEADERS = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow\r\n"  # no blank line: never complete
HUNG_S = 60.0  # a wait this long means "hung", never a performance limit


def stall(port: int, count: int, connect_timeout: float = 5.0) -> tuple[list[socket.socket], int]:
    """``count`` connections that each send half a request's headers and stop: (the sockets, how many could
    not even connect)."""
    opened: list[socket.socket] = []
    failed = 0
    for _ in range(count):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=connect_timeout)
        except OSError:  # before the fix: the server stops accepting and connect() times out
            failed += 1
            continue
        opened.append(sock)
        with contextlib.suppress(OSError):  # answered 503 and closed already (over the cap): dealt with
            sock.sendall(PARTIAL_HEADERS)
    return opened, failed


def wait_closed_by_server(socks: list[socket.socket], timeout: float = HUNG_S) -> int:
    """Wait until the server has closed each socket (EOF or reset); how many it closed within ``timeout``."""
    closed = 0
    with selectors.DefaultSelector() as selector:
        for sock in socks:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while selector.get_map() and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=max(0.0, deadline - time.monotonic())):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    data = sock.recv(4096)
                except ConnectionResetError:
                    data = b""
                except BlockingIOError:
                    continue
                if not data:
                    selector.unregister(sock)
                    closed += 1
    return closed


def close_all(socks: list[socket.socket]) -> None:
    for sock in socks:
        sock.close()


def get(port: int, path: str = "/healthz", timeout: float = HUNG_S) -> tuple[int, float]:
    """(status, seconds) of one GET on a new connection; an OSError if the server does not answer in time."""
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status, time.perf_counter() - start
    finally:
        conn.close()


def exchange(
    port: int, pieces: list[bytes], between: Callable[[], None] | None = None, timeout: float = HUNG_S
) -> tuple[int, bytes]:
    """Write ``pieces`` on one connection (``between`` runs after each piece but the last); (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        for i, piece in enumerate(pieces):
            sock.sendall(piece)
            if between is not None and i < len(pieces) - 1:
                between()
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, response.read()


@dataclass
class ThreadedServer:
    """The real server (``start_server``) on 127.0.0.1 in a thread with its own loop, for blocking clients."""

    port: int
    loop: asyncio.AbstractEventLoop


@contextmanager
def serve_in_thread(
    make_app: Callable[[], web.Application], settings: WebConfig | None = None
) -> Iterator[ThreadedServer]:
    port = free_port()
    ready = threading.Event()
    stop: list[asyncio.Event] = []
    loops: list[asyncio.AbstractEventLoop] = []
    errors: list[BaseException] = []

    async def main() -> None:
        stop.append(asyncio.Event())
        loops.append(asyncio.get_running_loop())
        server = await start_server(make_app(), f"127.0.0.1:{port}", settings)
        ready.set()
        try:
            await stop[0].wait()
        finally:
            await server.cleanup()

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # shown in the test's thread
            errors.append(exc)
            ready.set()

    thread = threading.Thread(target=run, name="web-server", daemon=True)
    thread.start()
    assert ready.wait(HUNG_S), "the server did not start"
    if errors:
        raise errors[0]
    try:
        yield ThreadedServer(port, loops[0])
    finally:
        loops[0].call_soon_threadsafe(stop[0].set)
        thread.join(HUNG_S)
        assert not thread.is_alive(), "the server did not stop"
        if errors:
            raise errors[0]


def lowered_limit(limit: int) -> Callable[[], None]:
    """A ``preexec_fn`` giving the child ``limit`` open files, soft and hard (so it cannot raise it again)."""

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    return apply


@dataclass
class WebProcess:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def log_lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()

    def stop(self) -> int:
        self.proc.terminate()
        try:
            return self.proc.wait(HUNG_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def start_web(
    work: Path, runs_dir: Path, open_files: int, config_text: str, checkout: Path | None = None
) -> WebProcess:
    """`ccci-bot web` as a real process with ``open_files`` descriptors; returns once ``/healthz`` answers.

    ``checkout``: run the ``bot`` package of another source tree (a benchmark's "before")."""
    port = free_port()
    config = work / "config.yaml"
    config.write_text(config_text)
    (work / "warm").mkdir(exist_ok=True)
    argv = [sys.executable, "-m", "bot.cli", "web", "--config", str(config), "--listen", f"127.0.0.1:{port}"]
    argv += ["--runs-dir", str(runs_dir), "--warm-dir", str(work / "warm"), "--data-dir", str(work / "data")]
    log = work / "web.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, preexec_fn=lowered_limit(open_files), cwd=checkout
        )
    process = WebProcess(proc, port, log)
    deadline = time.monotonic() + HUNG_S
    while True:
        try:
            get(port, timeout=5)
            return process
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                process.stop()
                raise RuntimeError("ccci-bot web did not start:\n" + log.read_text(errors="replace")) from None
            time.sleep(0.05)  # polling for start-up, not synchronisation of the behaviour under test


# --- a server whose descriptors run out (child process) -----------------------------------------------


def hog_driver(port: int) -> None:
    """The real server on ``port``, driven by lines on stdin: ``hog`` takes every free descriptor (what
    else in the process could: a burst of scans, a leak), ``free`` gives them back, ``stop`` cleans up.
    Logs go to stderr at INFO, as under ``ccci-bot run``."""
    import logging
    import os

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def main() -> None:
        loop = asyncio.get_running_loop()
        commands: asyncio.Queue[str] = asyncio.Queue()

        def read_stdin() -> None:
            for line in sys.stdin:
                loop.call_soon_threadsafe(commands.put_nowait, line.strip())

        threading.Thread(target=read_stdin, daemon=True).start()
        app = web.Application()
        app.add_routes([web.get("/healthz", health)])
        server = await start_server(app, f"127.0.0.1:{port}")
        print("listening", flush=True)
        hogged: list[int] = []
        while (command := await commands.get()) != "stop":
            if command == "hog":
                try:
                    while True:
                        hogged.append(os.open(os.devnull, os.O_RDONLY))
                except OSError:
                    pass
                print(f"hogged {len(hogged)}", flush=True)
            elif command == "free":
                for fd in hogged:
                    os.close(fd)
                hogged.clear()
                print("freed", flush=True)
        await server.cleanup()
        print("stopped", flush=True)

    asyncio.run(main())


if __name__ == "__main__":
    hog_driver(int(sys.argv[1]))
