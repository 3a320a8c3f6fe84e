"""Incremental ingest: stat every run dir, read only the new or changed ones, store them.

A dir whose fingerprint (sizes and mtimes of results.json, JUnit files and the log) matches the
stored one is not opened. Many new dirs at once (a first ingest of months of history) are read in a
process pool, since parsing is CPU-bound and the machine has more than one core.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from bot.artifacts.canonical import read_canonicals
from bot.artifacts.rundir import InProgress, Snapshot, read_run, snapshot
from bot.artifacts.timefmt import iso
from bot.config import Config
from bot.kb import load_nonfatal
from bot.kinds import classify
from bot.model import IngestReport, ParsedRun
from bot.store import Store

log = logging.getLogger(__name__)

PARALLEL_ABOVE = 200
BATCH = 500


def _read_one(args: tuple[Path, Config, Snapshot, float, tuple[str, ...]]) -> ParsedRun | InProgress | str:
    path, config, snap, now, ignore = args
    try:
        return read_run(path, config.ccci, config.evidence, snap, now, ignore)
    except Exception as exc:  # one bad dir must not stop the others; it is reported and retried
        log.exception("reading %s failed", path)
        return f"{path.name}: could not be read ({type(exc).__name__}: {exc})"


def _run_dirs(runs_dir: Path) -> Iterator[os.DirEntry[str]]:
    with os.scandir(runs_dir) as entries:
        for entry in entries:
            if entry.is_dir() and not entry.name.startswith("."):
                yield entry


def ingest(store: Store, config: Config, now: float | None = None, workers: int | None = None) -> IngestReport:
    """Scan the runs and warm dirs once; store what is new; return what happened."""
    started = time.perf_counter()
    now = time.time() if now is None else now
    known = store.fingerprints()
    ignore = load_nonfatal().line_markers
    todo: list[tuple[Path, Config, Snapshot, float, tuple[str, ...]]] = []
    scanned = unchanged = 0
    for entry in _run_dirs(config.ccci.runs_dir):
        scanned += 1
        snap = snapshot(entry.path, config.ccci)
        if known.get(entry.name) == snap.fingerprint:
            unchanged += 1
        else:
            todo.append((Path(entry.path), config, snap, now, ignore))

    ingested: list[str] = []
    in_progress: list[str] = []
    problems: list[str] = []
    batch: list[ParsedRun] = []
    affected: set[str] = set()
    for result in _read_all(todo, workers):
        if isinstance(result, str):
            problems.append(result)
        elif isinstance(result, InProgress):
            in_progress.append(result.run_id)
        else:
            batch.append(result)
            ingested.append(result.run_id)
            affected.add(result.recipe)
            for p in result.problems:
                problems.append(f"{result.run_id}: {p.excerpt}")
            if len(batch) >= BATCH:
                store.save_runs(batch)
                batch = []
    store.save_runs(batch)

    canonicals, canon_problems = read_canonicals(config.ccci.warm_dir, config.ccci.canonical_name)
    affected |= store.save_canonicals(canonicals)
    problems += canon_problems
    if ingested:
        store.set_kinds(classify(store.run_intervals(), config.ccci.sweep_gap_s))
    store.set_meta("last_ingest", iso(now) or "")
    return IngestReport(
        scanned=scanned,
        ingested=ingested,
        unchanged=unchanged,
        in_progress=in_progress,
        canonicals=len(canonicals),
        problems=problems,
        seconds=time.perf_counter() - started,
        affected=sorted(affected),
    )


def _read_all(
    todo: list[tuple[Path, Config, Snapshot, float, tuple[str, ...]]], workers: int | None
) -> Iterator[ParsedRun | InProgress | str]:
    workers = workers if workers is not None else min(4, os.cpu_count() or 1)
    if len(todo) <= PARALLEL_ABOVE or workers <= 1:
        yield from map(_read_one, todo)
        return
    # forkserver: the bot has threads (asyncio, to_thread); forking a threaded process is unsafe.
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("forkserver")) as pool:
        yield from pool.map(_read_one, todo, chunksize=64)
