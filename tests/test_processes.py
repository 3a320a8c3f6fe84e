"""Several processes on one data dir, and a killed parent (issue 14 item 7), with real processes."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from bot.store import Store
from bot.store.schema import MIGRATIONS

ROOT = Path(__file__).resolve().parent.parent


def _open_store(path: str, barrier: multiprocessing.synchronize.Barrier, out: multiprocessing.queues.Queue) -> None:  # type: ignore[type-arg]
    barrier.wait()  # every process opens the new data dir at the same moment
    try:
        store = Store(Path(path))
        out.put(("ok", store.schema_version))
        store.close()
    except Exception as exc:  # reported to the test
        out.put(("error", f"{type(exc).__name__}: {exc}"))


def test_first_opening_of_a_data_dir_by_several_processes_at_once(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    for attempt in range(4):
        path = tmp_path / f"d{attempt}" / "ccci-bot.sqlite3"
        n = 4
        barrier = ctx.Barrier(n)
        out = ctx.Queue()
        procs = [ctx.Process(target=_open_store, args=(str(path), barrier, out)) for _ in range(n)]
        for p in procs:
            p.start()
        results = [out.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(timeout=60)
            assert p.exitcode == 0
        assert results == [("ok", len(MIGRATIONS))] * n, results
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        conn.close()


CHILD = """
import sys
from bot.ingest.scan import worker_pool
from tests.hostile_world import park

pool = worker_pool(2)
futures = [pool.submit(park, sys.argv[1]) for _ in range(2)]
print("submitted", flush=True)
sys.stdin.read()  # until killed
"""


def _descendants(root: int) -> set[int]:
    """Every process below ``root`` (fork server, resource tracker, workers), from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().split(") ", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (FileNotFoundError, IndexError):
        return True
    return state in ("Z", "X")  # a zombie has exited; only its parent's reaping is left


def test_ingest_workers_exit_when_their_parent_is_killed(tmp_path: Path) -> None:
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(pid_dir)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "submitted"
        deadline = time.monotonic() + 120
        while len(list(pid_dir.iterdir())) < 2:  # both workers are running their task
            assert time.monotonic() < deadline, "workers never started"
            time.sleep(0.05)
        workers = {int(p.name) for p in pid_dir.iterdir()}
        assert all(not _gone(pid) for pid in workers)
        left = _descendants(child.pid)
        assert workers <= left  # and the fork server and resource tracker
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        deadline = time.monotonic() + 30
        while not all(_gone(pid) for pid in left):
            assert time.monotonic() < deadline, f"processes outlived their parent: {left}"
            time.sleep(0.05)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
