"""Counting a new red run's log ahead of the first reader, so its page opens without waiting.

A log page opens on the first failure line, and numbering that line means counting the newlines up
to it (about 0.45 s per GiB). Doing it in a worker thread right after ingest moves that wait off the
operator's first click; the index is kept in :mod:`bot.web.logview`'s in-process cache.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from bot.answers.why import cited_lines
from bot.artifacts.served import ArtifactError, served_file
from bot.model.records import RunStatus
from bot.service import Service
from bot.web import logview

log = logging.getLogger(__name__)
MAX_PER_SCAN = 32  # a first scan of a long history must not count every old log


def _warm_one(service: Service, run_id: str) -> bool:
    store, ccci = service.store, service.config.ccci
    row = store.runs.get(run_id)
    directory = store.runs.run_directory(run_id)
    if row is None or directory is None or row.status is not RunStatus.RED:
        return False
    lines = cited_lines(store, run_id, ccci.log_name)
    if not lines:
        return False
    try:
        path = served_file(ccci, Path(directory), ccci.log_name)
        logview.page_around(path, min(lines), service.config.web.log_page_lines)
    except (ArtifactError, OSError, ValueError) as exc:
        log.debug("not warming the log of %s: %s", run_id, exc)
        return False
    return True


def _newest_reds(service: Service, run_ids: list[str]) -> list[str]:
    rows = [row for row in map(service.store.runs.get, run_ids) if row is not None and row.status is RunStatus.RED]
    rows.sort(key=lambda r: r.finished or 0, reverse=True)
    return [r.run_id for r in rows[:MAX_PER_SCAN]]


async def warm_logs(service: Service, run_ids: list[str]) -> int:
    """Count the logs of the newest red runs among ``run_ids`` up to their first failure line."""
    warmed = 0
    started = time.perf_counter()
    for run_id in await asyncio.to_thread(_newest_reds, service, run_ids):
        if await asyncio.to_thread(_warm_one, service, run_id):
            warmed += 1
    if warmed:
        log.info(
            "counted the logs of %d red run(s) up to their failure lines in %.2f s",
            warmed,
            time.perf_counter() - started,
        )
    return warmed
