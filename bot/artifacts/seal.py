"""Sealed runs: what a scan looks at for a run dir whose results.json has settled.

Once results.json exists and nothing in the dir changed for ``settle_s``, cc-ci is done with it. A
scan then needs only the cheap signals that would show a change: results.json's inode, size and
mtime (rewritten in place, or replaced by a rename; links followed, as the fingerprint follows
them) and the JUnit directory's mtime (a file added, removed or renamed). Two ``stat`` calls
relative to an open runs-dir descriptor, nothing opened or listed; a no-change scan of a sealed
history is one pass of them (:func:`unsettled`). Any difference sends the dir back through the full
fingerprint (:func:`bot.artifacts.rundir.snapshot`).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from bot.config import CcciConfig


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


def unsettled(cfg: CcciConfig, runs_fd: int, names: list[str], seals: dict[str, str]) -> list[tuple[str, str | None]]:
    """(name, its seal now) of each of ``names`` that ``seals`` (the stored ones) does not settle: none
    stored, or one that differs now. A no-change scan's whole cost: two stats per sealed run."""
    seal_of = sealer(cfg, runs_fd)
    found = []
    for name in names:
        seal = seal_of(name)
        if seal is None or seal != seals.get(name):
            found.append((name, seal))
    return found


def settled(newest_mtime: float, has_results: bool, now: float, cfg: CcciConfig) -> bool:
    """A run dir with results.json whose files last changed ``settle_s`` ago or more: it can be sealed."""
    return has_results and now - newest_mtime >= cfg.settle_s
