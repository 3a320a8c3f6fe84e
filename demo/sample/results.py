"""results.json (schema 2) as cc-ci's runner writes it, last and atomically.

The bot treats a run dir without results.json as unfinished, so the file must never be seen
half-written: it is written to a temporary name and renamed into place.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from demo.sample.clock import compact, iso_z
from demo.sample.junit import StageStatus, TestResult
from demo.sample.model import ResultsStyle


@dataclass(frozen=True)
class Stage:
    """One tier's outcome: its tests from every source's JUnit file."""

    name: str
    status: StageStatus
    tests: tuple[TestResult, ...] = ()


@dataclass(frozen=True)
class RunRecord:
    """Everything results.json says about a run, before formatting."""

    recipe: str
    version: str
    run_id: str
    pr: int | None
    ref: str
    started: datetime
    finished: datetime
    stages: tuple[Stage, ...]
    clean_teardown: bool
    style: ResultsStyle = field(default_factory=ResultsStyle)


def _time(moment: datetime, style: ResultsStyle) -> str:
    return compact(moment) if style.time_format == "compact" else iso_z(moment)


def results_json(rec: RunRecord) -> dict[str, Any]:
    """The schema-2 document for a run."""
    rungs = {stage.name: stage.status for stage in rec.stages}
    level = 0
    cap: str | None = None
    for stage in rec.stages:
        if stage.status != "pass":
            cap = f"{stage.name}: {stage.status}"
            break
        level += 1
    skips = [
        f"{stage.name}::{t.name}: {t.message or 'skipped'}"
        for stage in rec.stages
        for t in stage.tests
        if t.status == "skip"
    ]
    return {
        "schema": 2,
        "recipe": rec.recipe,
        "version": rec.version,
        "pr": rec.pr,
        "ref": rec.ref,
        "run_id": rec.run_id,
        "started": _time(rec.started, rec.style),
        "finished": _time(rec.finished, rec.style),
        "stages": [{"name": s.name, "status": s.status, "tests": [t.as_json() for t in s.tests]} for s in rec.stages],
        "level": level,
        "level_cap_reason": cap,
        "rungs": [{"name": k, "status": v} for k, v in rungs.items()] if rec.style.rungs_as_list else rungs,
        "lint": "pass",
        "skips": {"intentional": skips, "unintentional": []},
        "flags": {"clean_teardown": rec.clean_teardown, "no_secret_leak": True},
        "screenshot": None,
        "summary_card": "summary.txt",
        "customization": None,
    }


def is_green(results: Mapping[str, Any]) -> bool:
    """No rung failed, errored or went unverified (the layout's rule; there is no top-level status)."""
    rungs = results["rungs"]
    statuses = rungs.values() if isinstance(rungs, dict) else [r["status"] for r in rungs]
    return not any(s in ("fail", "error", "unver") for s in statuses)


def write_atomic(path: Path, document: dict[str, Any]) -> None:
    """Write JSON to a temporary sibling, then rename it over `path`."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def summary_card(rec: RunRecord) -> str:
    """The short text card cc-ci posts next to a run."""
    rungs = "  ".join(f"{s.name}:{s.status}" for s in rec.stages)
    return f"{rec.recipe} {rec.version} (run {rec.run_id})\n{rungs}\nfinished {iso_z(rec.finished)}\n"
