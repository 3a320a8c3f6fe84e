"""The runs dir as a whole: which dir a rerun's runner wrote, and the JUnit files it has so far.

A rerun names no run dir in advance (the runner picks it); it is found afterwards by its results
file, read as ingest reads it.
"""

from __future__ import annotations

import contextlib
import os

from bot.artifacts.controls import has_controls
from bot.artifacts.rundir import read_results, snapshot
from bot.artifacts.safeopen import Unsafe
from bot.artifacts.timefmt import parse_time
from bot.config import Config


def junit_names(config: Config, run_id: str) -> list[str]:
    """The JUnit file names of a run dir as ingest lists them (raw: whoever shows them escapes them)."""
    return list(snapshot(config.ccci.runs_dir / run_id, config.ccci).junit_files)


def find_run_dir(config: Config, recipe: str, started: float, preferred: list[str]) -> str | None:
    """The run dir this attempt wrote: its results.json names the recipe and finished after ``started``.

    results.json is read as ingest reads it (:func:`bot.artifacts.rundir.read_results`: a regular file
    inside the run, within the size and depth caps), so a FIFO, a device or a link out of the run is
    passed over, never waited on or read whole.
    """
    runs_dir = config.ccci.runs_dir
    names = list(preferred)
    try:
        with os.scandir(runs_dir) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    if entry.is_dir() and entry.stat().st_mtime >= started - 1:
                        names.append(entry.name)
    except OSError:
        return None
    for name in dict.fromkeys(names):
        if has_controls(name) or "/" in name or name in ("", ".", ".."):
            continue
        try:
            data = read_results(runs_dir / name, config.ccci)
        except (OSError, ValueError, Unsafe):
            continue
        finished = parse_time(data.get("finished"))
        if data.get("recipe") == recipe and finished is not None and finished >= started - 1:
            return name
    return None
