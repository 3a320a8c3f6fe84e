"""bot.artifacts.forked: a loop split over forked children, as the CLI's full scan runs it.

Each case runs in a fresh Python, single-threaded as the CLI is: a pytest process may have other
threads running (xdist's), and Split rightly refuses to fork there.
"""

import json
import subprocess
import sys
import textwrap

import pytest

from bot.artifacts.forked import Split

pytestmark = pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")


def _run(body: str) -> dict[str, object]:
    script = "import json, os, threading\nfrom bot.artifacts.forked import Split\n" + textwrap.dedent(body)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_the_parts_run_in_forked_children_and_come_back_in_order() -> None:
    out = _run("""
        got = Split(lambda part: [(x * x, os.getpid()) for x in part], list(range(100)), 3).results()
        print(json.dumps({"got": got, "me": os.getpid()}))
    """)
    got = out["got"]
    assert isinstance(got, list)
    assert [square for square, _ in got] == [x * x for x in range(100)]
    pids = [pid for _, pid in got]
    assert len(set(pids)) == 3  # three processes did the work
    assert pids[0] == out["me"] and out["me"] not in pids[34:]  # this one did the first part, children the rest


def test_a_child_that_fails_has_its_part_done_here() -> None:
    out = _run("""
        me = os.getpid()
        def fn(part):
            if os.getpid() != me:
                raise RuntimeError("a child that breaks")
            return [(x, os.getpid()) for x in part]
        got = Split(fn, list(range(10)), 2).results()
        print(json.dumps({"got": got, "me": me}))
    """)
    got = out["got"]
    assert isinstance(got, list)
    assert [x for x, _ in got] == list(range(10))
    assert {pid for _, pid in got} == {out["me"]}


def test_with_another_thread_running_it_does_not_fork() -> None:
    out = _run("""
        stop = threading.Event()
        waiter = threading.Thread(target=stop.wait)
        waiter.start()
        try:
            got = Split(lambda part: [os.getpid() for _ in part], list(range(10)), 2).results()
        finally:
            stop.set()
            waiter.join()
        print(json.dumps({"pids": sorted(set(got)), "me": os.getpid()}))
    """)
    assert out["pids"] == [out["me"]]


def test_one_process_or_fewer_items_than_processes_is_a_plain_call() -> None:
    calls: list[list[int]] = []

    def fn(part: list[int]) -> list[int]:
        calls.append(part)
        return part

    assert Split(fn, [1, 2, 3], 1).results() == [1, 2, 3]
    assert Split(fn, [1], 4).results() == [1]
    assert calls == [[1, 2, 3], [1]]


def test_a_part_whose_fork_fails_is_done_here_in_order() -> None:
    out = _run("""
        real_fork, calls = os.fork, []
        def failing_second():
            calls.append(1)
            if len(calls) == 2:
                raise BlockingIOError(11, "Resource temporarily unavailable")
            return real_fork()
        os.fork = failing_second
        got = Split(lambda part: [(x, os.getpid()) for x in part], list(range(30)), 3).results()
        print(json.dumps({"got": got, "me": os.getpid()}))
    """)
    got = out["got"]
    assert isinstance(got, list)
    assert [x for x, _ in got] == list(range(30))
    pids = [pid for _, pid in got]
    assert len(set(pids)) == 2 and pids[10] != out["me"] and pids[20:] == [out["me"]] * 10


def test_close_stops_and_reaps_a_child_still_working() -> None:
    out = _run("""
        import signal
        me = os.getpid()
        def fn(part):
            if os.getpid() != me:
                signal.pause()  # a child that would never finish on its own
            return part
        split = Split(fn, list(range(4)), 2)
        pids = [child.pid for child in split._children]
        split.close()
        reaped = []
        for pid in pids:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                reaped.append(pid)
        print(json.dumps({"pids": pids, "reaped": reaped, "left": len(split._children)}))
    """)
    pids = out["pids"]
    assert isinstance(pids, list) and len(pids) == 1
    assert out["reaped"] == pids and out["left"] == 0
