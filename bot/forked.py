"""Split a syscall-bound loop over this process and forked copies of it, when that is safe.

A full scan of 50,000 sealed runs is 100,000 ``stat`` calls and little else; on the cc-ci host's
cores they run in parallel, where threads would not help (each call gives up and takes back the
GIL, which costs more than it saves). A forked child shares everything the loop reads (the open
runs-dir descriptor, the stored seals) without pickling it, so the only cost is the fork itself
and the short list of results it sends back.

Forking is safe only in a process with one thread: the CLI runs its answer inline, with no event
loop or worker thread. The bot runs its scans in a thread, so :func:`split_map` runs serially
there. A child never touches anything but the loop (no SQLite, no logging, no stdout) and leaves
by ``os._exit``, so nothing of the parent's is flushed or closed twice. A child that fails or dies
costs nothing but time: its part is done again here.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def max_procs() -> int:
    """How many processes a split may use here: the cores this process may run on, at most 4."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cores = os.cpu_count() or 1
    return min(4, cores)


def can_fork() -> bool:
    """Forking now copies no other thread's half-done state (see the module docstring)."""
    return hasattr(os, "fork") and threading.active_count() == 1


class Split(Generic[T, R]):
    """``fn(items)``, started: ``procs - 1`` forked children work on their slices while this process
    goes on; :meth:`results` computes the first slice here and collects the rest, in the order of
    ``items``. The slices are equal: this process may have other work to do before :meth:`results`,
    but a forked child is slower per item (its first writes to shared pages are copied), and on
    the 2-core machine measured the two even out. Serial, and nothing started, when ``procs`` ≤ 1 or
    forking is not safe (:func:`can_fork`). ``fn`` must only read, and return picklable values."""

    def __init__(self, fn: Callable[[list[T]], list[R]], items: list[T], procs: int) -> None:
        self._fn = fn
        if procs <= 1 or len(items) < procs or not can_fork():
            self._mine, self._children = items, []
            return
        size = -(-len(items) // procs)
        self._mine = items[:size]
        self._children = [(_start(fn, items[i : i + size]), items[i : i + size]) for i in range(size, len(items), size)]

    def results(self) -> list[R]:
        results = self._fn(self._mine)
        while self._children:
            (pid, fd), part = self._children[0]
            results.extend(_collect(pid, fd, self._fn, part))
            del self._children[0]
        return results

    def close(self) -> None:
        """Stop and reap the children whose results were not collected (after a failure here)."""
        while self._children:
            (pid, fd), _ = self._children.pop()
            with contextlib.suppress(OSError):  # already closed if collecting it failed
                os.close(fd)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def split_map(fn: Callable[[list[T]], list[R]], items: list[T], procs: int) -> list[R]:
    """``fn(items)``, computed in ``procs`` equal slices, all but the first in forked children (:class:`Split`)."""
    return Split(fn, items, procs).results()


def _start(fn: Callable[[list[T]], list[R]], part: list[T]) -> tuple[int, int]:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compute, send, leave without running any of the parent's exit code
        status = 1
        try:
            os.close(read_fd)
            data = pickle.dumps(fn(part), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_fd, "wb") as out:
                out.write(data)
            status = 0
        finally:
            os._exit(status)
    os.close(write_fd)
    return pid, read_fd


def _collect(pid: int, fd: int, fn: Callable[[list[T]], list[R]], part: list[T]) -> list[R]:
    """A child's results, or its part computed here when the child did not finish it."""
    with os.fdopen(fd, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) == 0:
        try:
            results: list[R] = pickle.loads(data)  # noqa: S301 - written by our own fork, just now
        except (pickle.UnpicklingError, EOFError, ValueError):
            pass
        else:
            return results
    return fn(part)
