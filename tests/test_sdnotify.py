"""systemd's notify protocol, received on a real unix datagram socket the test binds: the notifier on
its own (abstract and path sockets, a watchdog that stops when its loop is blocked), and `ccci-bot run`
as a process against a local Synapse — READY=1, watchdog pings, STOPPING=1 and exit 0 on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.runtime.sdnotify import Notifier, one_line, watchdog_interval


class Listener:
    """The service manager's side: a bound datagram socket and what arrived on it."""

    def __init__(self, address: str | bytes) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.received: list[dict[str, str]] = []

    def next(self, timeout: float) -> dict[str, str]:
        self.sock.settimeout(timeout)
        data = self.sock.recv(4096).decode()
        fields = dict(line.split("=", 1) for line in data.splitlines())
        self.received.append(fields)
        return fields

    def until(self, key: str, timeout: float) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {key} within {timeout}s; got {self.received}"
            fields = self.next(remaining)
            if key in fields:
                return fields

    def drain(self) -> list[dict[str, str]]:
        """Whatever is queued right now, without waiting."""
        self.sock.setblocking(False)
        found = []
        try:
            while True:
                found.append(dict(line.split("=", 1) for line in self.sock.recv(4096).decode().splitlines()))
        except BlockingIOError:
            return found
        finally:
            self.sock.setblocking(True)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def abstract() -> Iterator[tuple[Listener, str]]:
    name = f"@ccci-test-notify-{os.getpid()}-{time.monotonic_ns()}"
    listener = Listener(b"\0" + name[1:].encode())
    yield listener, name
    listener.close()


def test_abstract_socket_gets_ready_status_and_stopping(abstract: tuple[Listener, str]) -> None:
    listener, name = abstract
    notifier = Notifier({"NOTIFY_SOCKET": name})
    notifier.ready("ready: 1 room(s)\njoined")
    assert listener.next(5) == {"READY": "1", "STATUS": "ready: 1 room(s) joined"}
    notifier.stopping()
    assert listener.next(5) == {"STOPPING": "1", "STATUS": "stopping"}
    notifier.close()


def test_path_socket(tmp_path: Path) -> None:
    listener = Listener(str(tmp_path / "notify"))
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "notify")})
    notifier.status("scanning")
    assert listener.next(5) == {"STATUS": "scanning"}
    notifier.close()
    listener.close()


def test_without_notify_socket_nothing_is_sent() -> None:
    notifier = Notifier({"WATCHDOG_USEC": "1000000"})
    assert not notifier.enabled
    assert notifier.watchdog_s is None
    assert notifier.send(READY="1") is False


def test_watchdog_interval_is_half_and_only_for_this_pid() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None  # meant for a parent
    assert watchdog_interval({"WATCHDOG_USEC": "0"}) is None
    assert watchdog_interval({}) is None
    assert one_line("a\nb\tc  d") == "a b c d"


def test_a_blocked_event_loop_stops_the_watchdog_pings(abstract: tuple[Listener, str]) -> None:
    listener, name = abstract
    notifier = Notifier({"NOTIFY_SOCKET": name, "WATCHDOG_USEC": "100000"})  # a ping every 50 ms
    assert notifier.watchdog_s == 0.05

    async def scenario() -> tuple[int, int, int]:
        stop = asyncio.Event()
        feeder = asyncio.create_task(notifier.feed_watchdog(stop))
        await asyncio.to_thread(listener.until, "WATCHDOG", 5)  # the loop is free: pings come
        await asyncio.to_thread(listener.until, "WATCHDOG", 5)
        listener.drain()
        time.sleep(0.5)  # block the event loop itself (what a hung handler would do): ten periods pass
        during = len(listener.drain())  # nothing else ran in this loop since the drain before the block
        await asyncio.to_thread(listener.until, "WATCHDOG", 5)  # free again: pings resume
        stop.set()
        await feeder
        return during, len(listener.received), feeder.done()

    during, total, done = asyncio.run(scenario())
    assert during == 0
    assert total >= 3
    assert done
    notifier.close()


# --- the bot as a process ------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.synapse
def test_run_under_a_notify_socket(synapse: object, tmp_path: Path, abstract: tuple[Listener, str]) -> None:
    pytest.importorskip("synapse", reason="matrix-synapse is not installed (pip install -e '.[test]')")
    from demo.devserver.synapse import LocalSynapse
    from tests.matrix_harness import BotProcess
    from tests.service_world import make_world

    assert isinstance(synapse, LocalSynapse)
    listener, name = abstract
    world = make_world(synapse, tmp_path)
    bot = BotProcess(
        world.config_path,
        world.bot.password,
        tmp_path / "bot.log",
        env={**world.environ(), "NOTIFY_SOCKET": name, "WATCHDOG_USEC": "1000000"},  # a ping every 0.5 s
    )
    bot.start()
    try:
        try:
            ready = listener.until("READY", 60)
        except TimeoutError:
            raise AssertionError(f"no READY=1:\n{bot.log()}") from None
        assert ready["READY"] == "1"
        assert ready["STATUS"] == "ready: 1 room(s) joined", bot.log()
        pings = [listener.until("WATCHDOG", 10) for _ in range(3)]
        assert all(p == {"WATCHDOG": "1"} for p in pings)
        assert bot.proc is not None
        bot.proc.send_signal(signal.SIGTERM)
        stopping = listener.until("STOPPING", 10)
        assert stopping["STOPPING"] == "1"
        code = bot.proc.wait(10)  # graceful: within systemd's stop budget
        assert code == 0, bot.log()
    finally:
        bot.stop()
    statuses = [f["STATUS"] for f in listener.received if "STATUS" in f]
    assert statuses[:2] == ["opening the store", f"logging in to {synapse.url}"]


def test_a_thread_stuck_in_io_does_not_hold_the_exit(tmp_path: Path) -> None:
    """After the stop, a worker thread blocked on a FIFO nobody writes would keep the process alive;
    the exit deadline ends it with the bot's exit code."""
    fifo = tmp_path / "stuck"
    os.mkfifo(fifo)
    script = (
        "import asyncio, sys\n"
        "from bot.runtime.sdnotify import exit_deadline\n"
        "async def main():\n"
        f"    asyncio.get_running_loop().run_in_executor(None, open, {str(fifo)!r})\n"
        "    await asyncio.sleep(0)\n"
        "    exit_deadline(0.5, 0)\n"
        "asyncio.run(main())\n"
    )
    # Without the deadline the interpreter waits for the thread forever (TimeoutExpired here).
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "exiting anyway" in proc.stderr
