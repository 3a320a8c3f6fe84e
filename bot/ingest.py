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
from bot.artifacts.controls import escape_name
from bot.artifacts.rundir import InProgress, Refused, Snapshot, Vanished, read_run, snapshot
from bot.artifacts.timefmt import iso
from bot.config import Config
from bot.kb import load_nonfatal
from bot.kinds import classify
from bot.model import IngestReport, ParsedRun
from bot.orphans import die_with_parent
from bot.store import Store

log = logging.getLogger(__name__)

PARALLEL_ABOVE = 200
BATCH = 500


Result = ParsedRun | InProgress | Vanished | Refused | str


def _read_one(args: tuple[Path, Config, Snapshot, float, tuple[str, ...]]) -> Result:
    path, config, snap, now, ignore = args
    try:
        return read_run(path, config.ccci, config.evidence, snap, now, ignore)
    except Exception as exc:  # one bad dir must not stop the others; it is reported and retried
        log.exception("reading %s failed", escape_name(path.name))
        return escape_name(f"{path.name}: could not be read ({type(exc).__name__}: {exc})")


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
    seen: set[str] = set()
    for entry in _run_dirs(config.ccci.runs_dir):
        scanned += 1
        seen.add(entry.name)
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
        elif isinstance(result, Vanished):
            continue  # removed mid-scan: nothing to store; a row it had is retired below
        elif isinstance(result, Refused):
            store.note_refused(result.run_id, result.fingerprint, result.reason)
            problems.append(f"{escape_name(result.run_id)}: {result.reason}")
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
    retired = _gone_dirs(store, seen)
    affected |= set(store.retire_runs(retired, now))

    canonicals, canon_problems = read_canonicals(config.ccci.warm_dir, config.ccci.canonical_name)
    affected |= store.save_canonicals(canonicals)
    problems += canon_problems
    if ingested or retired:
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
        retired=retired,
    )


def _gone_dirs(store: Store, seen: set[str]) -> list[str]:
    """The stored runs whose dir no longer exists (to be retired).

    Only a run not seen in this scan whose recorded dir is gone: an empty scan (an unmounted runs dir)
    retires nothing, since it more likely means the dir is missing than that every run was deleted.
    """
    if not seen:
        return []
    gone = [
        run_id
        for run_id, directory in store.run_directories().items()
        if run_id not in seen and not os.path.lexists(directory)
    ]
    store.forget_notes(run_id for run_id in store.run_notes() if run_id not in seen)
    if gone:
        log.info("retiring %d run(s) whose dir is gone", len(gone))
    return sorted(gone)


def _read_all(
    todo: list[tuple[Path, Config, Snapshot, float, tuple[str, ...]]], workers: int | None
) -> Iterator[Result]:
    workers = workers if workers is not None else min(4, os.cpu_count() or 1)
    if len(todo) <= PARALLEL_ABOVE or workers <= 1:
        yield from map(_read_one, todo)
        return
    with worker_pool(workers) as pool:
        yield from pool.map(_read_one, todo, chunksize=64)


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """A pool whose workers die with the process that made it (see :mod:`bot.orphans`).

    forkserver: the bot has threads (asyncio, to_thread); forking a threaded process is unsafe.
    """
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=get_context("forkserver"),
        initializer=die_with_parent,
        initargs=(os.getpid(),),
    )
