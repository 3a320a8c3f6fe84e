"""Hostile clients against the real HTTP server (issue 25): slow clients and connection floods (item 8),
webhook bodies in pieces and malformed signatures (item 11). Every test talks to a real server on
127.0.0.1 over raw sockets; `ccci-bot web` runs as a real process under a lowered open-files limit."""

from __future__ import annotations

import asyncio
import logging
import resource
import selectors
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import WebConfig
from bot.web.hooks import MAX_BODY, SIGNATURE_HEADER, hook_routes, sign, valid
from tests.hostile_world import make_run, real_junit
from tests.web_siege import (
    HUNG_S,
    PARTIAL_HEADERS,
    close_all,
    exchange,
    get,
    serve_in_thread,
    stall,
    start_web,
    wait_closed_by_server,
)

ROOT = Path(__file__).resolve().parent.parent


class Errors(logging.Handler):
    """Every ERROR (or worse) any logger emits while it is attached: a traceback is one."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def errors() -> Iterator[Errors]:
    handler = Errors()
    logging.getLogger().addHandler(handler)
    try:
        yield handler
    finally:
        logging.getLogger().removeHandler(handler)


async def health(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def plain_app() -> web.Application:
    app = web.Application()
    app.add_routes([web.get("/healthz", health)])
    return app


def still_open(sock: socket.socket) -> bool:
    """True if the server has not closed ``sock`` (nothing to read yet, no EOF)."""
    sock.setblocking(False)
    try:
        return sock.recv(1) != b""
    except BlockingIOError:
        return True
    except ConnectionResetError:
        return False


# --- item 8: slow clients -----------------------------------------------------------------------------


def test_a_connection_that_never_completes_its_headers_is_closed(errors: Errors) -> None:
    with serve_in_thread(plain_app, WebConfig(client_timeout_s=0.5)) as server:
        socks, failed = stall(server.port, 3)
        assert failed == 0
        assert wait_closed_by_server(socks) == 3
        close_all(socks)
        assert get(server.port)[0] == 200  # the server itself is fine
    assert errors.records == []


def test_trickling_header_bytes_does_not_extend_the_deadline() -> None:
    """One byte at a time, a header line that never ends: closed although bytes keep arriving.

    The pause between bytes is the reproduction itself (a slowloris client), not synchronisation."""
    with (
        serve_in_thread(plain_app, WebConfig(client_timeout_s=0.5)) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=HUNG_S) as sock,
    ):
        sock.sendall(b"GET / HTTP/1.1\r\nX-Slow: ")
        deadline = time.monotonic() + HUNG_S
        closed = False
        with selectors.DefaultSelector() as selector:
            selector.register(sock, selectors.EVENT_READ)
            while not closed and time.monotonic() < deadline:
                try:
                    sock.sendall(b"a")
                except (BrokenPipeError, ConnectionResetError):
                    closed = True
                    break
                if selector.select(timeout=0.05):
                    closed = sock.recv(1) == b""
        assert closed, "a client trickling header bytes kept its connection"


def test_a_kept_alive_connection_must_send_its_next_headers_in_time_too() -> None:
    with (
        serve_in_thread(plain_app, WebConfig(client_timeout_s=0.5)) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=HUNG_S) as sock,
    ):
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        sock.sendall(PARTIAL_HEADERS)
        assert wait_closed_by_server([sock]) == 1


def test_at_the_cap_the_longest_idle_connection_makes_room() -> None:
    """Stalled connections fill the cap; a real client still gets its answer, the oldest stalled one goes.

    A connection younger than a tenth of the deadline is never closed to make room (a burst of real
    clients must not reset each other), so until then the newcomer gets a 503: the loop asks again."""
    with serve_in_thread(plain_app, WebConfig(client_timeout_s=5, max_connections=4)) as server:
        socks, failed = stall(server.port, 4)
        assert failed == 0
        answers = []
        deadline = time.monotonic() + HUNG_S
        while not answers or answers[-1] != 200:
            assert time.monotonic() < deadline
            answers.append(get(server.port)[0])
        assert set(answers) <= {200, 503}
        assert wait_closed_by_server(socks[:1]) == 1
        assert all(still_open(s) for s in socks[2:])  # only as many as were needed made room
        close_all(socks)


def test_at_the_cap_with_every_connection_in_a_request_a_newcomer_gets_503() -> None:
    entered = threading.Semaphore(0)
    release: list[asyncio.Event] = []

    async def block(request: web.Request) -> web.Response:
        if not release:
            release.append(asyncio.Event())
        entered.release()
        await release[0].wait()
        return web.Response(text="done")

    def app() -> web.Application:
        made = plain_app()
        made.add_routes([web.get("/block", block)])
        return made

    with serve_in_thread(app, WebConfig(client_timeout_s=HUNG_S, max_connections=2)) as server:
        busy = [socket.create_connection(("127.0.0.1", server.port), timeout=HUNG_S) for _ in range(2)]
        for sock in busy:
            sock.sendall(b"GET /block HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        for _ in busy:
            assert entered.acquire(timeout=HUNG_S)  # both are in a request now
        status, body = exchange(server.port, [b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"])
        assert status == 503 and b"web.max_connections" in body
        server.loop.call_soon_threadsafe(release[0].set)
        for sock in busy:
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
            sock.close()
        assert get(server.port)[0] == 200  # room again


@pytest.fixture(scope="module")
def junit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return real_junit(tmp_path_factory.mktemp("junit"))


def test_ccci_bot_web_survives_more_stalled_connections_than_it_has_descriptors(tmp_path: Path, junit: Path) -> None:
    """The issue's reproduction, scaled down: 700 connections that never finish their headers against
    `ccci-bot web` limited to 512 open files. Pages answer, the scan still finds a new run, every
    stalled connection is closed, and the log stays a few lines long (it was 16 MB within seconds)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # this side needs 700 sockets and its own files
    if soft != resource.RLIM_INFINITY and soft < 2048:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(2048, hard), hard))
    runs = tmp_path / "runs"
    runs.mkdir()
    config = "ccci:\n  settle_s: 0\nreports:\n  poll_s: 0.2\nweb:\n  client_timeout_s: 2\n"
    server = start_web(tmp_path, runs, open_files=512, config_text=config)
    try:
        socks, failed = stall(server.port, 700)
        try:
            assert failed == 0, f"{failed} connections were not even accepted"
            # At the cap, a new connection closes the one idle longest once it has idled a tenth of
            # client_timeout_s; before any has, it gets a 503 at once (docs: web.max_connections). On a busy
            # machine the page may come right after the stall, so a 503 is allowed until one is that old.
            deadline = time.monotonic() + HUNG_S
            status = get(server.port)[0]
            while status != 200:
                assert status == 503, status
                assert time.monotonic() < deadline, "no stalled connection was ever given up for a page"
                time.sleep(0.1)  # polling for a stalled connection to reach the eviction age (0.2 s)
                status = get(server.port)[0]
            make_run(runs, junit)  # the scan must still get descriptors for the run's files
            deadline = time.monotonic() + HUNG_S
            while get(server.port, "/api/runs/evil-1")[0] != 200:
                assert time.monotonic() < deadline, "the scan did not read a new run during the siege"
                time.sleep(0.1)  # polling for the scan, which runs every 0.2 s
            assert get(server.port, "/runs/evil-1/log?start=1")[0] == 200
            assert wait_closed_by_server(socks) == len(socks)
        finally:
            close_all(socks)
        assert server.proc.poll() is None
    finally:
        code = server.stop()
    lines = server.log_lines()
    assert code == 0, lines
    text = "\n".join(lines)
    assert "Traceback" not in text and "Too many open files" not in text, text[:3000]
    assert len(lines) < 20, text[:3000]
    assert "closed the one idle longest" in text  # the cap was reached: the test exercised it


def test_accept_failures_are_counted_not_logged_one_by_one(tmp_path: Path) -> None:
    """Out of descriptors (taken by something else in the process), asyncio fails accept() again and
    again; the log gets one line and then a count, and the server serves again once descriptors free up."""
    from demo.devserver.process import free_port
    from tests.web_siege import lowered_limit

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.web_siege", str(port)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "server.log").open("wb"),
        text=True,
        preexec_fn=lowered_limit(256),
    )
    assert proc.stdin is not None and proc.stdout is not None

    def command(line: str, answer: str) -> str:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(line + "\n")
        proc.stdin.flush()
        got = proc.stdout.readline()
        assert got.startswith(answer), got
        return got

    try:
        assert proc.stdout.readline().startswith("listening")
        command("hog", "hogged")
        clients = [socket.create_connection(("127.0.0.1", port), timeout=HUNG_S) for _ in range(5)]  # < the cap
        for sock in clients:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        log = tmp_path / "server.log"
        deadline = time.monotonic() + HUNG_S
        while "could not accept" not in log.read_text():
            assert time.monotonic() < deadline and proc.poll() is None, log.read_text()
            time.sleep(0.05)  # waiting for the server's first failed accept()
        command("free", "freed")
        for sock in clients:  # accepted once descriptors are free again (asyncio retries after 1 s)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
            sock.close()
        command("stop", "stopped")
        assert proc.wait(HUNG_S) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = (tmp_path / "server.log").read_text()
    accept_lines = [line for line in text.splitlines() if "could not accept" in line]
    assert "Traceback" not in text, text[:3000]
    assert len(accept_lines) == 2, text[:3000]  # the first failure, then the count when the server stopped
    assert "Too many open files" in accept_lines[0]
    more = int(accept_lines[1].split(": ", 2)[2].split(" more", 1)[0])
    assert more >= 1  # there were repeats, and they were counted, not logged


def test_the_soft_open_files_limit_is_raised_to_the_hard_one() -> None:
    probe = (
        "import resource\n"
        "from bot.fdlimit import connection_cap, raise_open_files_limit\n"
        "before = connection_cap(256)\n"
        "now = raise_open_files_limit()\n"
        "print(before, now, resource.getrlimit(resource.RLIMIT_NOFILE)[0], connection_cap(256), connection_cap(100))\n"
    )

    def limits() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_NOFILE, (400, 1024))

    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=HUNG_S, preexec_fn=limits
    )
    assert out.returncode == 0, out.stderr
    before, now, soft, cap, small = map(int, out.stdout.split())
    assert now == soft == 1024
    assert before == 400 - 320  # with 400 files, the server leaves 320 for the bot's own work
    assert cap == 256 and small == 100  # with 1024, web.max_connections itself


def test_a_tally_logs_the_first_event_then_counts(caplog: pytest.LogCaptureFixture) -> None:
    from bot.web.tally import Tally

    tally = Tally(logging.getLogger("test.tally"), "dropped")
    with caplog.at_level(logging.WARNING, "test.tally"):
        for i in range(5):
            tally.add(f"#{i}")
        assert [r.getMessage() for r in caplog.records] == [
            "dropped: #0 (repeats are counted: one line per 60 s at most)"
        ]
        tally.report()
        tally.close()  # nothing new since the report: nothing more to say
    assert [r.getMessage() for r in caplog.records][1:] == ["dropped: 4 more in the last 60 s (5 in all); the last: #4"]


def test_other_loop_errors_still_reach_the_previous_handler() -> None:
    from bot.web.floodlog import AcceptErrors

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        seen: list[str] = []
        loop.set_exception_handler(lambda _loop, context: seen.append(context["message"]))
        accept_errors = AcceptErrors(loop)
        loop.call_exception_handler({"message": "Task exception was never retrieved"})
        for _ in range(3):
            loop.call_exception_handler(
                {"message": "socket.accept() out of system resource", "exception": OSError(24, "Too many open files")}
            )
        assert seen == ["Task exception was never retrieved"]
        assert accept_errors.tally.total == 3
        accept_errors.close()
        loop.call_exception_handler({"message": "socket.accept() out of system resource"})
        assert len(seen) == 2  # the previous handler is back

    asyncio.run(scenario())


# --- item 11: the webhook -----------------------------------------------------------------------------

SECRET = "s3cret"
BODY = b'{"run_id": "760", "recipe": "mumble", "status": "finished"}'


class HookServer:
    """A real server with the webhook; ``arrived`` is set when a request (its headers) reaches the app."""

    def __init__(self, body_timeout_s: float = HUNG_S) -> None:
        self.woken: list[bool] = []
        self.arrived = threading.Event()
        self.body_timeout_s = body_timeout_s

    def app(self) -> web.Application:
        @web.middleware
        async def note_arrival(request: web.Request, handler: Callable[..., object]) -> web.StreamResponse:
            self.arrived.set()
            result = await handler(request)  # type: ignore[misc]
            assert isinstance(result, web.StreamResponse)
            return result

        app = web.Application(middlewares=[note_arrival])
        app.add_routes(hook_routes(SECRET, lambda: self.woken.append(True), self.body_timeout_s))
        return app

    def wait_arrived(self) -> None:
        assert self.arrived.wait(HUNG_S), "the request never reached the app"


def hook_head(signature: bytes, framing: bytes) -> bytes:
    return (
        b"POST /hooks/run-finished HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + SIGNATURE_HEADER.encode()
        + b": "
        + signature
        + b"\r\n"
        + framing
        + b"\r\n"
    )


def length(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n" % len(body)


CHUNKED = b"Transfer-Encoding: chunked\r\n"


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def test_a_signed_body_in_two_pieces_is_read_whole() -> None:
    """The first piece is already with the app when the second is sent: before the fix, 401."""
    hook = HookServer()
    signature = sign(SECRET, BODY).encode()
    with serve_in_thread(hook.app) as server:
        status, _ = exchange(
            server.port, [hook_head(signature, length(BODY)) + BODY[:10], BODY[10:]], between=hook.wait_arrived
        )
    assert status == 202 and hook.woken == [True]


def test_a_signed_chunked_body_in_two_pieces_is_read_whole() -> None:
    hook = HookServer()
    signature = sign(SECRET, BODY).encode()
    with serve_in_thread(hook.app) as server:
        status, _ = exchange(
            server.port,
            [hook_head(signature, CHUNKED) + chunk(BODY[:10]), chunk(BODY[10:]) + b"0\r\n\r\n"],
            between=hook.wait_arrived,
        )
    assert status == 202 and hook.woken == [True]


@pytest.mark.parametrize(
    "signature",
    ["sha256=é".encode(), b"sha256=\xe9", b"sha256=" + "é".encode() * 32, b"", b"md5=abc", b"sha256=" + b"0" * 64],
    ids=["utf8-e-acute", "latin1-byte", "long-non-ascii", "empty", "other-scheme", "wrong-hex"],
)
def test_a_malformed_signature_is_a_clean_401(signature: bytes, errors: Errors) -> None:
    hook = HookServer()
    with serve_in_thread(hook.app) as server:
        status, body = exchange(server.port, [hook_head(signature, length(BODY)) + BODY])
    assert status == 401 and SIGNATURE_HEADER.encode() in body
    assert hook.woken == [] and errors.records == []


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_a_body_over_the_cap_is_413(framing: str) -> None:
    hook = HookServer()
    big = b"x" * (MAX_BODY + 1)
    signature = sign(SECRET, big).encode()
    if framing == "length":
        request = hook_head(signature, length(big)) + big
    else:
        request = hook_head(signature, CHUNKED) + chunk(big[: MAX_BODY // 2]) + chunk(big[MAX_BODY // 2 :])
        request += b"0\r\n\r\n"
    with serve_in_thread(hook.app) as server:
        status, _ = exchange(server.port, [request])
    assert status == 413 and hook.woken == []


def test_a_body_that_stops_arriving_is_408() -> None:
    hook = HookServer(body_timeout_s=0.3)
    signature = sign(SECRET, BODY).encode()
    with serve_in_thread(hook.app) as server:
        status, body = exchange(server.port, [hook_head(signature, length(BODY)) + BODY[:10]])
    assert status == 408 and b"web.client_timeout_s" in body and hook.woken == []


class RunningHook:
    """One webhook server for every Hypothesis example (a server per example would be most of the time)."""

    def __init__(self) -> None:
        self.hook = HookServer(body_timeout_s=5)
        self.context = serve_in_thread(self.hook.app)
        self.port = self.context.__enter__().port

    def close(self) -> None:
        self.context.__exit__(None, None, None)


@pytest.fixture(scope="module")
def running_hook() -> Iterator[RunningHook]:
    running = RunningHook()
    handler = Errors()
    logging.getLogger().addHandler(handler)
    try:
        yield running
    finally:
        logging.getLogger().removeHandler(handler)
        running.close()
    assert handler.records == [], [r.getMessage() for r in handler.records]


@settings(max_examples=150, deadline=None)
@given(
    signature=st.one_of(st.binary(max_size=120), st.just(b"VALID")),
    body=st.binary(max_size=400),
    framing=st.sampled_from(["length", "chunked", "pieces"]),
)
def test_any_webhook_body_and_signature_get_2xx_or_4xx_never_500(
    running_hook: RunningHook, signature: bytes, body: bytes, framing: str
) -> None:
    signed = signature == b"VALID"
    if signed:
        signature = sign(SECRET, body).encode()
    if framing == "chunked":
        pieces = [hook_head(signature, CHUNKED) + (chunk(body) if body else b"") + b"0\r\n\r\n"]
    elif framing == "pieces":
        pieces = [hook_head(signature, length(body)) + body[: len(body) // 2], body[len(body) // 2 :]]
    else:
        pieces = [hook_head(signature, length(body)) + body]
    try:
        status, _ = exchange(running_hook.port, pieces)
    except (ConnectionResetError, BrokenPipeError):
        assert not signed, "a correctly signed request lost its connection"
        return  # a header aiohttp's parser refuses can end with a reset after its 400: not a 500
    assert 200 <= status < 500, status
    if signed:
        assert status == 202


@given(header=st.one_of(st.none(), st.text(), st.text().map(lambda t: "sha256=" + t)), body=st.binary(max_size=200))
def test_the_signature_check_is_total(header: str | None, body: bytes) -> None:
    """Any header a client can send (any text, surrogates included) gives True or False, never an error."""
    expected = sign(SECRET, body)
    assert valid(SECRET, body, header) is (header is not None and header.strip() == expected)
    assert valid(SECRET, body, f"  {expected} ") is True
