"""The green-run check: a taught pattern must match no successful run (elastic-recheck's rule).

Every green run's log and JUnit files are searched (:mod:`bot.artifacts.textsearch`: bounded reads,
RE2). All of them: the answer says how many matched, not only whether one did.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from bot.artifacts.layout import Layout
from bot.artifacts.textsearch import search_run
from bot.linear_regex import LinearPattern
from bot.model.learn import GreenCheck, GreenHit

HITS_SHOWN = 5


def check_greens(runs: Iterable[tuple[str, str, str]], layout: Layout, pattern: LinearPattern) -> GreenCheck:
    """``runs``: (run_id, recipe, run dir) of every green run, newest first; the first matches are shown."""
    started = time.perf_counter()
    checked = matched = unreadable = partial = 0
    hits: list[GreenHit] = []
    for run_id, recipe, run_dir in runs:
        checked += 1
        found = search_run(run_dir, layout, pattern)
        partial += found.partial
        if not found.read:
            unreadable += 1
        elif found.hit is not None:
            matched += 1
            if len(hits) < HITS_SHOWN:
                hits.append(GreenHit(run_id, recipe, found.hit.path, found.hit.excerpt))
    return GreenCheck(checked, matched, hits, unreadable, partial, time.perf_counter() - started)
