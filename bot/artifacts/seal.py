"""Sealed runs: what a scan looks at for a run dir whose results.json has settled.

Once results.json exists and nothing in the dir changed for ``settle_s``, cc-ci is done with it. A
scan then needs only the cheap signals that would show a change: results.json's inode, size and
mtime (rewritten in place, or replaced by a rename; links followed, as the fingerprint follows
them) and the JUnit directory's mtime (a file added, removed or renamed). Two ``stat`` calls
relative to an open runs-dir descriptor, nothing opened or listed; a no-change scan of a sealed
history is one pass of them, split over the cores when it is long (:class:`SealCheck`). Any
difference sends the dir back through the full fingerprint (:func:`bot.artifacts.rundir.snapshot`).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from bot.artifacts.forked import Split, max_procs
from bot.config import CcciConfig

SPLIT_ABOVE = 4000  # sealed runs to check before the stats are split over the cores (a fork is ~2 ms)


def sealer(cfg: CcciConfig, runs_fd: int) -> Callable[[str], str | None]:
    """The seal of ``<runs_dir>/<run_id>`` now, or None when it has no results.json (never sealed).

    A function with the names bound once: a full scan calls it for every sealed run."""
    results = f"/{cfg.results_name}"
    junit_dir = f"/{cfg.junit_dir}"
    stat = os.stat

    def seal_of(run_id: str) -> str | None:
        try:
            st = stat(run_id + results, dir_fd=runs_fd)
        except OSError:
            return None
        try:
            junit = str(stat(run_id + junit_dir, dir_fd=runs_fd).st_mtime_ns)
        except OSError:
            junit = "-"
        return f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}|{junit}"

    return seal_of


class SealCheck:
    """The seals of these dirs now, compared with the stored ones: a no-change scan's whole cost.

    For a long history the stats are started at once in forked children (:class:`bot.artifacts.forked.Split`):
    they are syscalls, so they run in parallel on the host's cores, while this process loads the
    stored seals to compare them with, before it takes its own share."""

    def __init__(self, cfg: CcciConfig, runs_fd: int, names: list[str]) -> None:
        seal_of = sealer(cfg, runs_fd)
        self.names = names
        procs = max_procs() if len(names) >= SPLIT_ABOVE else 1
        self._now = Split(lambda part: [seal_of(name) for name in part], names, procs)

    def unsettled(self, seals: dict[str, str]) -> list[tuple[str, str | None]]:
        """(name, its seal now) of each dir that ``seals`` (the stored ones) does not settle: none
        stored, or one that differs now."""
        now = zip(self.names, self._now.results(), strict=True)
        return [(name, seal) for name, seal in now if (stored := seals.get(name)) is None or seal != stored]

    def close(self) -> None:
        self._now.close()


def settled(newest_mtime: float, has_results: bool, now: float, cfg: CcciConfig) -> bool:
    """A run dir with results.json whose files last changed ``settle_s`` ago or more: it can be sealed."""
    return has_results and now - newest_mtime >= cfg.settle_s
