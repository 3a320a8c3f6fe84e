"""Split a syscall-bound loop over this process and forked copies of it, when that is safe.

A full scan of 50,000 sealed runs is 100,000 ``stat`` calls and little else; on the cc-ci host's
cores they run in parallel, where threads would not help (each call gives up and takes back the
GIL, which costs more than it saves). A forked child shares everything the loop reads (the open
runs-dir descriptor, the stored seals) without pickling it, so the only cost is the fork itself
and the short list of results it sends back.

Forking is safe only in a process with one thread: the CLI runs its answer inline, with no event
loop or worker thread. The bot runs its scans in a thread, so :class:`Split` runs serially
there. A child never touches anything but the loop (no SQLite, no logging, no stdout) and leaves
by ``os._exit``, so nothing of the parent's is flushed or closed twice. A child that fails or dies
costs nothing but time: its part is done again here.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

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


@dataclass
class _Child:
    """A forked child working on ``part``; reaped once ``pid`` is None."""

    pid: int | None
    fd: int
    part: list[Any]
    status: int = -1  # its exit code once reaped (0: it sent its results)


class Split(Generic[T, R]):
    """``fn(items)``, started: ``procs - 1`` forked children work on their slices while this process
    goes on; :meth:`results` computes the first slice here and collects the rest, in the order of
    ``items``. The slices are equal: this process may have other work to do before :meth:`results`,
    but a forked child is slower per item (its first writes to shared pages are copied), and on
    the 2-core machine measured the two even out. Serial, and nothing started, when ``procs`` ≤ 1 or
    forking is not safe (:func:`can_fork`); a slice whose fork fails is done here. ``fn`` must only
    read, and return picklable values. :meth:`close` stops what a failure left running."""

    def __init__(self, fn: Callable[[list[T]], list[R]], items: list[T], procs: int) -> None:
        self._fn = fn
        self._children: list[_Child] = []
        self._local: list[list[T]] = []  # slices a fork failed for, in order after the children's
        if procs <= 1 or len(items) < procs or not can_fork():
            self._mine = items
            return
        size = -(-len(items) // procs)
        self._mine = items[:size]
        try:
            for i in range(size, len(items), size):
                part = items[i : i + size]
                if self._local or not _start(fn, part, self._children):
                    self._local.append(part)
        except BaseException:  # Ctrl-C while forking: the children started so far are stopped
            self.close()
            raise

    def results(self) -> list[R]:
        results = self._fn(self._mine)
        while self._children:
            child = self._children[0]
            results.extend(_collect(child, self._fn))
            self._children.pop(0)
        for part in self._local:
            results.extend(self._fn(part))
        return results

    def close(self) -> None:
        """Stop and reap the children whose results were not collected (after a failure here)."""
        while self._children:
            _stop(self._children.pop())


_STOPPING = {signal.SIGINT, signal.SIGTERM}


def _start(fn: Callable[[list[T]], list[R]], part: list[T], children: list[_Child]) -> bool:
    """Fork a child for ``part`` and add it to ``children``; False if the fork failed.

    Ctrl-C and SIGTERM are held back across the fork: one landing in the child before its ``try``
    would run the parent's exit code there (closing the inherited SQLite connection, among others);
    the child takes them with the default action (it dies at once, and its part is done here), the
    parent once the child is on the list that :meth:`Split.close` stops."""
    read_fd, write_fd = os.pipe()
    held = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPPING)
    try:
        pid = os.fork()
    except OSError:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        os.close(read_fd)
        os.close(write_fd)
        return False
    if pid == 0:  # the child: compute, send, leave without running any of the parent's exit code
        status = 1
        try:
            gc.disable()  # no parent finalizer runs here
            for signum in _STOPPING:
                signal.signal(signum, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
            os.close(read_fd)
            data = pickle.dumps(fn(part), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_fd, "wb") as out:
                out.write(data)
            status = 0
        finally:
            os._exit(status)
    try:
        os.close(write_fd)
        children.append(_Child(pid, read_fd, part))
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
    return True


def _collect(child: _Child, fn: Callable[[list[T]], list[R]]) -> list[R]:
    """A child's results, or its part computed here when the child did not finish it."""
    try:
        with os.fdopen(child.fd, "rb", closefd=False) as pipe:
            data = pipe.read()
    except BaseException:
        _stop(child)
        raise
    _stop(child, kill=False)  # the pipe's end: it has exited, or is about to
    if child.status == 0:
        try:
            results: list[R] = pickle.loads(data)  # noqa: S301 - written by our own fork, just now
        except (pickle.UnpicklingError, EOFError, ValueError):
            pass
        else:
            return results
    return fn(child.part)


def _stop(child: _Child, kill: bool = True) -> None:
    """Close the child's pipe and reap it; ``kill``: kill it first unless it has already exited."""
    if child.fd >= 0:
        os.close(child.fd)
        child.fd = -1
    if child.pid is None:
        return
    try:
        done, status = os.waitpid(child.pid, os.WNOHANG if kill else 0)
        if done == 0:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGKILL)
            _, status = os.waitpid(child.pid, 0)
        child.status = os.waitstatus_to_exitcode(status)
    except ChildProcessError:  # reaped already
        child.status = -1
    child.pid = None
