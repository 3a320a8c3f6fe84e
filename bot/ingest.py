"""Incremental ingest: look at every run dir as cheaply as its state allows, read only new or changed ones.

A sealed run (results.json settled, see :mod:`bot.artifacts.seal`) is checked by two stats; any other
dir by its fingerprint (sizes and mtimes of results.json, JUnit files and the log). Only a dir whose
seal or fingerprint differs from the stored one is opened. Many new dirs at once (a first ingest of
months of history) are read in a process pool, since parsing is CPU-bound and the machine has more
than one core; the pool gets the config once, when each worker starts, and work in chunks.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from bot.artifacts.canonical import read_canonicals
from bot.artifacts.controls import escape_name
from bot.artifacts.rundir import InProgress, Refused, Snapshot, Vanished, read_run, snapshot
from bot.artifacts.seal import seal_of, settled
from bot.artifacts.timefmt import iso
from bot.config import Config
from bot.kb import load_nonfatal
from bot.kinds import classify
from bot.model import IngestReport, ParsedRun
from bot.store import Store

if TYPE_CHECKING:
    import concurrent.futures

log = logging.getLogger(__name__)

PARALLEL_ABOVE = 200
BATCH = 5000  # runs per write transaction: a first ingest of 50,000 runs is ten commits
CHUNK = 64  # run dirs handed to a worker at a time

Shared = tuple[Config, float, tuple[str, ...]]  # what every read of one scan shares: config, now, ignore
# Set once per worker process (or for in-process reads) by _init_reader, instead of sent with each task.
_shared: Shared | None = None


Result = ParsedRun | InProgress | Vanished | Refused | str


def _init_reader(shared: Shared | None, owner: int | None = None) -> None:
    """A worker's start: die with the process that made the pool, and keep what every read shares."""
    global _shared  # one per process, set before any task
    if owner is not None:
        from bot.orphans import die_with_parent  # ctypes: only in a worker

        die_with_parent(owner)
    if shared is not None:
        _shared = shared


def _read_one(args: tuple[Path, Snapshot]) -> Result:
    path, snap = args
    if _shared is None:
        raise RuntimeError("_init_reader runs before any read")
    config, now, ignore = _shared
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
    cfg = config.ccci
    seals, known = store.scan_marks()
    todo: list[tuple[Path, Snapshot]] = []
    pre_seals: dict[str, str] = {}  # taken before reading: a change while it is read breaks the seal
    reseal: dict[str, str] = {}
    scanned = unchanged = 0
    seen: set[str] = set()
    runs_fd = os.open(cfg.runs_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for entry in _run_dirs(cfg.runs_dir):
            scanned += 1
            name = entry.name
            seen.add(name)
            sealed = seals.get(name)
            seal = seal_of(name, cfg, runs_fd) if sealed is not None else None
            if sealed is not None and seal == sealed:
                unchanged += 1
                continue
            snap = snapshot(entry.path, cfg)
            stored = known.get(name) if sealed is None else store.fingerprint(name)
            ripe = settled(snap.newest_mtime, snap.has_results, now, cfg)
            if ripe and seal is None:
                seal = seal_of(name, cfg, runs_fd)
            if stored == snap.fingerprint:
                unchanged += 1
                if ripe and seal is not None:
                    reseal[name] = seal  # settled since it was read, or its seal moved without a change
            else:
                todo.append((Path(entry.path), snap))
                if ripe and seal is not None:
                    pre_seals[name] = seal
    finally:
        os.close(runs_fd)
    store.set_seals(reseal)

    ingested: list[str] = []
    in_progress: list[str] = []
    problems: list[str] = []
    batch: list[ParsedRun] = []
    affected: set[str] = set()
    for result in _read_all(todo, workers, (config, now, load_nonfatal().line_markers)):
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
                store.save_runs(batch, pre_seals)
                batch = []
    store.save_runs(batch, pre_seals)
    retired = _gone_dirs(store, seen, (seals.keys() | known.keys()) - seen)
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


def _gone_dirs(store: Store, seen: set[str], unseen: set[str]) -> list[str]:
    """The stored runs whose dir no longer exists (to be retired).

    Only a run not seen in this scan whose recorded dir is gone: an empty scan (an unmounted runs dir)
    retires nothing, since it more likely means the dir is missing than that every run was deleted.
    """
    if not seen:
        return []
    if not unseen:  # every run the store knows was seen: nothing is gone (and no per-run lookup)
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


def _read_all(todo: list[tuple[Path, Snapshot]], workers: int | None, shared: Shared) -> Iterator[Result]:
    workers = workers if workers is not None else min(4, os.cpu_count() or 1)
    if len(todo) <= PARALLEL_ABOVE or workers <= 1:
        _init_reader(shared)
        yield from map(_read_one, todo)
        return
    with worker_pool(workers, shared) as pool:
        yield from pool.map(_read_one, todo, chunksize=CHUNK)


def worker_pool(workers: int, shared: Shared | None = None) -> concurrent.futures.ProcessPoolExecutor:
    """A pool whose workers die with the process that made it (see :mod:`bot.orphans`) and get what
    every read of a scan shares (``shared``) once, when they start.

    forkserver: the bot has threads (asyncio, to_thread); forking a threaded process is unsafe.
    Imported here: multiprocessing is a cost for every CLI start, and most scans read too few dirs
    to need a pool.
    """
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=get_context("forkserver"),
        initializer=_init_reader,
        initargs=(shared, os.getpid()),
    )
