"""One cc-ci run dir read into a :class:`ParsedRun`, whatever state it is in.

Missing results.json → derived from JUnit; unreadable JUnit → a problem item and the rest is used;
a dir still being written (no results.json yet, files changing) → :class:`InProgress`, retried later;
a dir gone while it was read → :class:`Vanished`; a run whose name, recipe or version holds control
characters, or a recipe that is not spelled as a recipe name (:func:`bot.model.recipe_name.is_recipe_name`) →
:class:`Refused`. Every file is opened through :mod:`bot.artifacts.safeopen`: a link
leading outside the run, a FIFO or a device is a note on the run, never content.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.artifacts.clone import checked_out_tag
from bot.artifacts.controls import escape_name, has_controls
from bot.artifacts.junit import JunitFile, read_junit
from bot.artifacts.logscan import merge_hits, scan_run_log
from bot.artifacts.safeopen import Unsafe, dir_in_run, open_dir_in_run, read_bytes_in_run
from bot.artifacts.timefmt import parse_time, unusable_time, usable
from bot.config import CcciConfig, EvidenceConfig
from bot.linear_regex import linear
from bot.model.recipe_name import RECIPE_NAME_RULE, is_recipe_name
from bot.model.records import (
    TIERS,
    EvidenceItem,
    EvidenceKind,
    Failure,
    ParsedRun,
    RunStatus,
    TestCase,
    TestStatus,
    TierResult,
)

# RE2 (bot.linear_regex): a classname is the recipe's text, of any length.
_RECIPE_IN_CLASSNAME = linear(r"(?:^|[./])tests[./]([A-Za-z0-9_.-]+?)[./]test_")


@dataclass(frozen=True)
class InProgress:
    """A run dir that is still being written; it will be read once it settles."""

    run_id: str
    reason: str


@dataclass(frozen=True)
class Vanished:
    """A run dir that disappeared while it was being read: skipped (its row, if any, is retired later)."""

    run_id: str


@dataclass(frozen=True)
class Refused:
    """A run dir the bot will not ingest (the reason is a note shown instead of the run)."""

    run_id: str
    reason: str
    fingerprint: str


@dataclass(frozen=True)
class Snapshot:
    """What a cheap stat pass sees of a run dir: enough to tell whether it changed."""

    fingerprint: str
    newest_mtime: float
    has_results: bool
    junit_files: tuple[str, ...]
    junit_refused: str | None = None  # why the JUnit dir was not listed (it leads outside the run)


def snapshot(run_dir: Path | str, cfg: CcciConfig) -> Snapshot:
    """Stat the files the bot reads (results.json, JUnit, log) without opening any.

    Plain ``os`` calls on strings: this runs for every run dir on every scan, and pathlib's
    object churn was most of a no-change re-ingest.
    """
    base = os.fspath(run_dir)
    parts: list[str] = []
    newest = 0.0
    has_results = False
    for name in (cfg.results_name, cfg.log_name):
        try:
            st = os.stat(f"{base}/{name}")  # noqa: PTH116 - hot path, see docstring
        except OSError:
            parts.append(f"{name}:-")
            continue
        has_results = has_results or name == cfg.results_name
        parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
        newest = max(newest, st.st_mtime)
    junit: list[str] = []
    refused: str | None = None
    try:
        # the dir is confined like every file: a link to a dir elsewhere is not listed at all
        fd = open_dir_in_run(base, cfg.junit_dir)
    except Unsafe as exc:
        refused = exc.reason
        parts.append(f"{cfg.junit_dir}:outside")
    except OSError:
        pass
    else:
        try:
            with os.scandir(fd) as entries:
                for entry in entries:
                    # anything but a directory: a FIFO or a link elsewhere is listed, and becomes a note
                    if entry.name.endswith(".xml") and not entry.is_dir(follow_symlinks=False):
                        try:
                            st = entry.stat()
                        except OSError:  # a dangling link
                            st = entry.stat(follow_symlinks=False)
                        junit.append(entry.name)
                        parts.append(f"j/{entry.name}:{st.st_size}:{st.st_mtime_ns}")
                        newest = max(newest, st.st_mtime)
        except OSError:
            pass
        finally:
            os.close(fd)
    junit.sort()
    parts.sort()
    return Snapshot("|".join(parts), newest, has_results, tuple(junit), refused)


def read_run(
    run_dir: Path,
    cfg: CcciConfig,
    ev: EvidenceConfig,
    snap: Snapshot | None = None,
    now: float | None = None,
    ignore_log_lines: tuple[str, ...] = (),
) -> ParsedRun | InProgress | Vanished | Refused:
    """Read everything the bot needs from one run dir."""
    snap = snap or snapshot(run_dir, cfg)
    if has_controls(run_dir.name):
        return Refused(run_dir.name, "run dir name holds control characters; not ingested", snap.fingerprint)
    result = _read_run(run_dir, cfg, ev, snap, time.time() if now is None else now, ignore_log_lines)
    if not run_dir.is_dir():  # removed while we read it: what we read is not a run
        return Vanished(run_dir.name)
    if isinstance(result, ParsedRun):
        for field_name, value in (("recipe", result.recipe), ("version", result.version or "")):
            if has_controls(value):
                reason = f"{field_name} {escape_name(value[:80])!r} holds control characters; not ingested"
                return Refused(result.run_id, reason, snap.fingerprint)
        if not is_recipe_name(result.recipe):  # it would become an argv element of a rerun
            reason = f"recipe {result.recipe[:80]!r} is not a recipe name ({RECIPE_NAME_RULE}); not ingested"
            return Refused(result.run_id, reason, snap.fingerprint)
    return result


def read_results(run_dir: Path, cfg: CcciConfig) -> dict[str, Any]:
    """results.json as a dict, within the size and depth caps; ``Unsafe``/``ValueError``/``OSError`` if not."""
    data = read_bytes_in_run(run_dir, cfg.results_name, cfg.max_results_bytes)
    try:
        loaded = json.loads(data.decode("utf-8", errors="replace"))
    except RecursionError:
        raise ValueError(f"nested deeper than {cfg.max_results_depth} levels") from None
    if not isinstance(loaded, dict):
        raise ValueError(f"expected a JSON object, got {type(loaded).__name__}")
    if _depth_over(loaded, cfg.max_results_depth):
        raise ValueError(f"nested deeper than {cfg.max_results_depth} levels")
    return loaded


def _depth_over(value: Any, limit: int) -> bool:
    """Whether a parsed JSON value nests deeper than ``limit`` (iterative: no recursion to exhaust)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item if isinstance(v, dict | list))
    return False


def _read_run(
    run_dir: Path,
    cfg: CcciConfig,
    ev: EvidenceConfig,
    snap: Snapshot,
    now: float,
    ignore_log_lines: tuple[str, ...],
) -> ParsedRun | InProgress:
    run_id = run_dir.name
    problems: list[EvidenceItem] = []
    raw = _read_results(run_dir, cfg, snap, now - snap.newest_mtime < cfg.settle_s, problems)
    if isinstance(raw, InProgress):
        return raw
    junits = _read_junits(run_dir, cfg, ev, snap, problems)
    tests = [t for j in junits for t in j.tests]
    tiers = _tiers(raw, junits)
    failures = _failures(raw, tests, cfg)
    if any(j.escaped for j in junits):
        text = "test names with control characters are shown escaped"
        problems.append(_problem(EvidenceKind.NAMES_ESCAPED, run_id, cfg.junit_dir, text))
    status, unverified = _status(tiers, tests, failures)
    recipe = _recipe(raw, run_dir, tests)
    started, finished = _times(raw, junits, tests, snap)
    problems += _time_problems(raw, cfg, run_id)
    clone = dir_in_run(run_dir, f"abra/recipes/{recipe}") if not raw and "/" not in recipe else None
    run = ParsedRun(
        run_id=run_id,  # the dir name: links and cc-ci's dashboard use it, whatever results.json says
        recipe=recipe,
        version=_opt_str(raw.get("version")) or (checked_out_tag(clone, run_dir) if clone else None),
        pr=_opt_str(raw.get("pr")),
        ref=_opt_str(raw.get("ref")),
        started=started,
        finished=finished,
        tiers=tiers,
        tests=tests,
        failures=failures,
        status=status,
        unverified=unverified,
        derived=not raw,
        directory=str(run_dir),
        fingerprint=snap.fingerprint,
        raw=raw,
        problems=problems,
    )
    if status is RunStatus.RED:
        run.log_hits = _log_evidence(run_dir, run, cfg, ev, ignore_log_lines)
    return run


def _read_results(
    run_dir: Path, cfg: CcciConfig, snap: Snapshot, settling: bool, problems: list[EvidenceItem]
) -> dict[str, Any] | InProgress:
    """results.json's fields ({} when it is missing or unreadable: the status comes from JUnit, and
    ``problems`` says why), or InProgress while the run may still be writing it."""
    run_id = run_dir.name
    if snap.has_results:
        try:
            return read_results(run_dir, cfg)
        except Unsafe as exc:
            text = f"{exc.reason}; status derived from JUnit"
            problems.append(_problem(EvidenceKind.RESULTS_UNREADABLE, run_id, cfg.results_name, text))
        except (OSError, ValueError) as exc:
            if settling:
                return InProgress(run_id, f"{cfg.results_name} unreadable while being written")
            problems.append(
                _problem(
                    EvidenceKind.RESULTS_UNREADABLE,
                    run_id,
                    cfg.results_name,
                    f"{cfg.results_name} unreadable ({exc}); status derived from JUnit",
                )
            )
    elif settling or not snap.junit_files:
        return InProgress(run_id, f"no {cfg.results_name} yet")
    else:
        problems.append(
            _problem(
                EvidenceKind.RESULTS_MISSING,
                run_id,
                cfg.results_name,
                f"{cfg.results_name} missing (runner died?); status derived from JUnit",
            )
        )
    return {}


def _read_junits(
    run_dir: Path, cfg: CcciConfig, ev: EvidenceConfig, snap: Snapshot, problems: list[EvidenceItem]
) -> list[JunitFile]:
    """The run's JUnit files, each read on its own; what could not be read goes to ``problems``."""
    run_id = run_dir.name
    if snap.junit_refused:
        text = f"{snap.junit_refused}; no JUnit read"
        problems.append(_problem(EvidenceKind.JUNIT_UNREADABLE, run_id, cfg.junit_dir, text))
    junits = [
        read_junit(
            run_dir / cfg.junit_dir / name, f"{cfg.junit_dir}/{name}", root=run_dir, max_text=ev.max_failure_chars
        )
        for name in snap.junit_files
    ]
    for j in junits:
        if j.problem:
            problems.append(
                _problem(
                    EvidenceKind.JUNIT_UNREADABLE,
                    run_id,
                    f"{cfg.junit_dir}/{j.path.name}",
                    f"JUnit unreadable: {escape_name(j.path.name)}: {j.problem}",
                )
            )
    return junits


def _failures(raw: dict[str, Any], tests: list[TestCase], cfg: CcciConfig) -> list[Failure]:
    """The failing tests from JUnit, then the failures only results.json names."""
    failures = [
        Failure(
            t.tier,
            t.source,
            t.name,
            _first_line(t.message or t.text),
            t.text or t.message,
            t.junit_file,
            t.status,
        )
        for t in tests
        if t.status.is_failure
    ]
    return failures + _failures_only_in_results(raw, tests, cfg)


def _time_problems(raw: dict[str, Any], cfg: CcciConfig, run_id: str) -> list[EvidenceItem]:
    problems = []
    for key in ("started", "finished"):
        if unusable_time(raw.get(key)):
            text = f"{cfg.results_name}: {key} {str(raw.get(key))[:40]!r} is not a usable time; treated as missing"
            problems.append(_problem(EvidenceKind.BAD_TIME, run_id, cfg.results_name, escape_name(text)))
    return problems


def _problem(kind: EvidenceKind, run_id: str, path: str, text: str) -> EvidenceItem:
    return EvidenceItem(kind=kind, run_id=run_id, path=path, line=None, excerpt=text)


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:500]
    return ""


def _list(value: Any) -> list[Any]:
    """A list from results.json, or nothing when the field has another shape."""
    return value if isinstance(value, list) else []


def _opt_str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _tiers(raw: dict[str, Any], junits: list[JunitFile]) -> list[TierResult]:
    """results.json's stages and rungs win; tiers seen only in JUnit are added from their tests."""
    found: dict[str, TestStatus] = {}
    for stage in _list(raw.get("stages")):
        if isinstance(stage, dict) and stage.get("name"):
            found[escape_name(str(stage["name"]))] = TestStatus.parse(stage.get("status"))
    rungs = raw.get("rungs")
    items: list[tuple[Any, Any]] = []
    if isinstance(rungs, dict):
        items = list(rungs.items())
    elif isinstance(rungs, list):
        items = [(r.get("name"), r.get("status")) for r in rungs if isinstance(r, dict)]
    for name, value in items:
        if not name:
            continue
        status = TestStatus.parse(value.get("status") if isinstance(value, dict) else value)
        key = escape_name(str(name))
        current = found.get(key)
        if current is None or (status is TestStatus.UNVER and not current.is_failure):
            found[key] = status
    for j in junits:
        tier = escape_name(j.tier)  # from a file name: shown in chat and on the terminal
        if tier in found:
            continue
        statuses = [t.status for t in j.tests]
        if any(s.is_failure for s in statuses) or (j.problem and not statuses):
            found[tier] = TestStatus.FAIL if statuses else TestStatus.UNVER
        elif statuses:
            found[tier] = TestStatus.PASS if TestStatus.PASS in statuses else TestStatus.SKIP
    if not raw:
        # No results.json: the runner died. Standard tiers without a JUnit file should have run and did not.
        for tier in TIERS:
            found.setdefault(tier, TestStatus.UNVER)
    return [TierResult(name, status) for name, status in found.items()]


def _failures_only_in_results(raw: dict[str, Any], tests: list[TestCase], cfg: CcciConfig) -> list[Failure]:
    """A test results.json calls failed but no JUnit file shows (JUnit lost): still a failure."""
    seen = {(t.tier, t.name) for t in tests}
    out: list[Failure] = []
    for stage in _list(raw.get("stages")):
        if not isinstance(stage, dict):
            continue
        for test in _list(stage.get("tests")):
            if not isinstance(test, dict):
                continue
            name = escape_name(str(test.get("name") or "?"))
            tier = escape_name(str(stage.get("name") or "?"))
            if TestStatus.parse(test.get("status")).is_failure and (tier, name) not in seen:
                note = f"failed per {cfg.results_name}; no JUnit record of it"
                out.append(Failure(tier, "unknown", name, note, note, cfg.results_name))
    return out


def _status(tiers: list[TierResult], tests: list[TestCase], failures: list[Failure]) -> tuple[RunStatus, bool]:
    statuses = [t.status for t in tiers] + [t.status for t in tests]
    if not statuses and not failures:
        return RunStatus.UNKNOWN, False
    if failures or any(s.is_failure for s in statuses):
        return RunStatus.RED, False
    if TestStatus.UNVER in statuses:
        return RunStatus.RED, True
    return RunStatus.GREEN, False


def _recipe(raw: dict[str, Any], run_dir: Path, tests: list[TestCase]) -> str:
    if raw.get("recipe"):
        return str(raw["recipe"])
    recipes = dir_in_run(run_dir, "abra/recipes")
    try:
        clones = [p.name for p in recipes.iterdir() if p.is_dir()] if recipes else []
    except OSError:
        clones = []
    clones = [name for name in clones if is_recipe_name(name)]
    if len(clones) == 1:
        return clones[0]
    for t in tests:
        match = _RECIPE_IN_CLASSNAME.search(t.classname)
        if match and is_recipe_name(match[1]):
            return match[1]
    return "unknown"


def _times(
    raw: dict[str, Any], junits: list[JunitFile], tests: list[TestCase], snap: Snapshot
) -> tuple[float | None, float | None]:
    finished = parse_time(raw.get("finished")) or (snap.newest_mtime if usable(snap.newest_mtime) else None)
    started = parse_time(raw.get("started"))
    if started is None:
        stamps = [j.timestamp for j in junits if j.timestamp is not None]
        if stamps:
            started = min(stamps)
        elif finished is not None:
            started = finished - sum(t.ms for t in tests) / 1000.0
    if started is not None and not usable(started):
        started = None
    return started, finished


def _log_evidence(
    run_dir: Path, run: ParsedRun, cfg: CcciConfig, ev: EvidenceConfig, ignore: tuple[str, ...]
) -> list[EvidenceItem]:
    """Lines of the runner log that name a failing test (or an unverified tier)."""
    needles = [f.test for f in run.failures]
    if not needles:
        needles = [f"tier {t.name}" for t in run.tiers if t.status is TestStatus.UNVER]
    if not needles:
        return []
    scan = scan_run_log(
        run_dir, cfg.log_name, needles, context=ev.context_lines, max_hits=ev.max_log_hits, ignore=ignore
    )
    if scan.problem:
        return [_problem(EvidenceKind.LOG_UNREADABLE, run.run_id, cfg.log_name, scan.problem)]
    return [
        EvidenceItem(
            kind=EvidenceKind.LOG,
            run_id=run.run_id,
            path=cfg.log_name,
            line=h.line,
            excerpt=h.excerpt[: ev.max_excerpt_chars],
        )
        for h in merge_hits(scan.hits)
    ]
