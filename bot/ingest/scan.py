"""Incremental ingest: look at every run dir as cheaply as its state allows, read only new or changed ones.

A sealed run (results.json settled, see :mod:`bot.artifacts.seal`) is checked by two stats; any other
dir by its fingerprint (sizes and mtimes of results.json, JUnit files and the log). Only a dir whose
seal or fingerprint differs from the stored one is opened. Many new dirs at once (a first ingest of
months of history) are read in a process pool, since parsing is CPU-bound and the machine has more
than one core; the pool gets the config once, when each worker starts, and work in chunks.

The scan before one CLI answer is scoped (:class:`bot.model.records.ScanScope`): two stats for each of
50,000 sealed runs cost more than the answer, so it checks only the sealed runs the answer reads, and
it does not list the runs dir while the dir's stat matches the last listing's (:class:`DirMark`: no
entry added, removed or renamed since). The bot's periodic scan and ``ccci-bot ingest`` list and
check everything.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bot.artifacts.canonical import read_canonicals
from bot.artifacts.controls import escape_name
from bot.artifacts.rundir import InProgress, Refused, Snapshot, Vanished, read_run, snapshot
from bot.artifacts.seal import settled, unsettled
from bot.artifacts.timefmt import iso
from bot.config import Config
from bot.ingest.sweeps import group_runs
from bot.kb import load_nonfatal
from bot.model.answers import IngestReport
from bot.model.records import ParsedRun, ScanScope
from bot.store import Store
from bot.store.ingest import DirMark, ScanMarks

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

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
        from bot.ingest.workers import die_with_parent  # here: only a pool's workers need it

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


MARK_AFTER_NS = 2_000_000_000  # a runs dir changed this recently is not marked: its mtime may not move again


def _run_dir_names(runs_fd: int) -> list[str]:
    with os.scandir(runs_fd) as entries:
        return [entry.name for entry in entries if not entry.name.startswith(".") and entry.is_dir()]


@dataclass
class _Found:
    """What reading the dirs of one scan found and stored."""

    unchanged: int = 0
    ingested: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    in_progress: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    affected: set[str] = field(default_factory=set)


def ingest(
    store: Store, config: Config, now: float | None = None, workers: int | None = None, scope: ScanScope | None = None
) -> IngestReport:
    """Scan the runs and warm dirs once; store what is new; return what happened.

    ``scope``: check only the sealed runs an answer reads (:class:`ScanScope`); new and unsealed dirs
    are looked at all the same, and the runs dir is not even listed while its stat matches the last
    listing's (:class:`DirMark`). A scoped scan that stores something checks the other sealed runs
    too, since the verdicts it has decided again read other recipes' runs."""
    started = time.perf_counter()
    now = time.time() if now is None else now
    cfg = config.ccci
    found = _Found()
    retired: list[str] = []
    runs_fd = os.open(cfg.runs_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        listed_at = time.time_ns()
        st = os.fstat(runs_fd)
        mark = store.ingest.runs_dir_mark() if scope is not None else None
        seen: set[str] | None = None
        if scope is None:
            listed = _run_dir_names(runs_fd)
            seen = set(listed)
            names = listed
            marks = store.ingest.scan_marks()
            known: set[str] = marks.seals.keys() | marks.prints.keys()
        elif mark is not None and (mark.dev, mark.ino, mark.mtime_ns) == (st.st_dev, st.st_ino, st.st_mtime_ns):
            # The dir as last listed: stored runs, and the listed dirs that were not stored then and
            # still are not (one stored since, sealed and outside the scope, is left as the others are).
            marks = store.ingest.scan_marks(scope)
            pending = store.ingest.unstored(mark.pending) if mark.pending else []
            names = list(dict.fromkeys([*marks.seals, *marks.prints, *pending]))
            known = set()
        else:
            marks = store.ingest.scan_marks(scope)
            listed = _run_dir_names(runs_fd)
            seen = set(listed)
            skipped = store.ingest.sealed_runs().difference(marks.seals)
            names = [n for n in listed if n not in skipped] if skipped else listed
            known = marks.seals.keys() | marks.prints.keys() | skipped
        _check_and_read(store, config, now, runs_fd, names, marks, workers, found)
        scanned = len(names)
        if seen is not None:
            unseen = known - seen
            retired = _gone_dirs(store, seen, unseen)
            trusted = listed_at - st.st_mtime_ns >= MARK_AFTER_NS and not unseen.difference(retired)
            pending = sorted(seen - known - set(found.ingested) - set(found.refused))
            mark = DirMark(st.st_dev, st.st_ino, st.st_mtime_ns, tuple(pending)) if trusted else None
            if mark != store.ingest.runs_dir_mark():
                store.ingest.set_runs_dir_mark(mark)
        if scope is not None and (found.ingested or retired):
            full = store.ingest.scan_marks()
            checked = set(names)
            later = [n for n in full.seals if n not in checked and (seen is None or n in seen)]
            _check_and_read(store, config, now, runs_fd, later, full, workers, found)
            scanned += len(later)
    finally:
        os.close(runs_fd)
    affected = found.affected | set(store.ingest.retire_runs(retired, now))

    canonicals, canon_problems = read_canonicals(config.ccci.warm_dir, config.ccci.canonical_name)
    affected |= store.canonicals.save(canonicals)
    if found.ingested or retired:
        store.ingest.set_kinds(group_runs(store.ingest.run_intervals(), config.ccci.sweep_gap_s))
    store.meta.set("last_ingest", iso(now) or "")
    return IngestReport(
        scanned=scanned,
        ingested=found.ingested,
        unchanged=found.unchanged,
        in_progress=found.in_progress,
        canonicals=len(canonicals),
        problems=found.problems + canon_problems,
        seconds=time.perf_counter() - started,
        affected=sorted(affected),
        retired=retired,
    )


def _check_and_read(
    store: Store,
    config: Config,
    now: float,
    runs_fd: int,
    names: list[str],
    marks: ScanMarks,
    workers: int | None,
    found: _Found,
) -> None:
    """Check each of the dirs ``names`` as cheaply as its state allows; read and store the new or changed ones."""
    cfg = config.ccci
    seals = marks.seals
    closer = unsettled(cfg, runs_fd, names, seals)
    found.unchanged += len(names) - len(closer)
    todo: list[tuple[Path, Snapshot]] = []
    pre_seals: dict[str, str] = {}  # taken before reading: a change while it is read breaks the seal
    reseal: dict[str, str] = {}
    base = os.fspath(cfg.runs_dir)
    for name, seal in closer:
        path = os.path.join(base, name)  # noqa: PTH118 - as os.scandir joins, on strings
        snap = snapshot(path, cfg)
        stored = marks.prints.get(name) if name not in seals else store.ingest.fingerprint(name)
        ripe = settled(snap.newest_mtime, snap.has_results, now, cfg)
        if stored == snap.fingerprint:
            found.unchanged += 1
            if ripe and seal is not None:
                reseal[name] = seal  # settled since it was read, or its seal moved without a change
        else:
            todo.append((Path(path), snap))
            if ripe and seal is not None:
                pre_seals[name] = seal
    store.ingest.set_seals(reseal)
    if not todo:
        return
    batch: list[ParsedRun] = []
    for result in _read_all(todo, workers, (config, now, load_nonfatal().line_markers)):
        if isinstance(result, str):
            found.problems.append(result)
        elif isinstance(result, InProgress):
            found.in_progress.append(result.run_id)
        elif isinstance(result, Vanished):
            continue  # removed mid-scan: nothing to store; a row it had is retired below
        elif isinstance(result, Refused):
            store.ingest.note_refused(result.run_id, result.fingerprint, result.reason)
            found.refused.append(result.run_id)
            found.problems.append(f"{escape_name(result.run_id)}: {result.reason}")
        else:
            batch.append(result)
            found.ingested.append(result.run_id)
            found.affected.add(result.recipe)
            for p in result.problems:
                found.problems.append(f"{result.run_id}: {p.excerpt}")
            if len(batch) >= BATCH:
                store.ingest.save_runs(batch, pre_seals)
                batch = []
    store.ingest.save_runs(batch, pre_seals)


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
        for run_id, directory in store.ingest.run_directories().items()
        if run_id not in seen and not os.path.lexists(directory)
    ]
    store.ingest.forget_notes(run_id for run_id in store.ingest.run_notes() if run_id not in seen)
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


def worker_pool(workers: int, shared: Shared | None = None) -> ProcessPoolExecutor:
    """A pool whose workers die with the process that made it (see :mod:`bot.ingest.workers`) and get what
    every read of a scan shares (``shared``) once, when they start.

    forkserver: the bot has threads (asyncio, to_thread); forking a threaded process is unsafe.
    Its modules (multiprocessing, pickle) are imported here: most scans read too few dirs to need a pool.
    """
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=get_context("forkserver"),
        initializer=_init_reader,
        initargs=(shared, os.getpid()),
    )
