"""Helpers the benchmarks share: spreads of rounds, and the peak RSS of worker processes.

Worker RSS is read from each worker's own ``/proc/<pid>/status`` (VmHWM, its peak) while the work
runs: ``RUSAGE_CHILDREN`` sees only children that were waited for, and pool workers are the
forkserver's children, not ours.
"""

from __future__ import annotations

import os
import statistics
import threading


def spread(values: list[float]) -> str:
    """median [min–max]"""
    return f"{statistics.median(values):8.2f} [{min(values):.2f}–{max(values):.2f}]"


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{current}/task/{tid}/children") as f:
                    kids = {int(k) for k in f.read().split()}
            except OSError:
                continue
            todo += list(kids - found)
            found |= kids
    return found


def _vmhwm_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class WorkerRss:
    """Samples the peak RSS (VmHWM) of every descendant process while the block runs."""

    def __init__(self) -> None:
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        me = os.getpid()
        while not self._stop.wait(0.05):
            for pid in _descendants(me):
                self.peak = max(self.peak, _vmhwm_mb(pid))

    def __enter__(self) -> WorkerRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
