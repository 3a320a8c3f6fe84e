"""The doctor's vocabulary: a check's result, what checks share, and how results are printed."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from bot.config import Config


class Outcome(StrEnum):
    PASS = "pass"  # noqa: S105 - an outcome, not a password
    FAIL = "fail"
    WARN = "warn"  # works, but not as configured (e.g. a signature of yours is skipped); not a failure
    SKIP = "skip"  # could not be checked because an earlier check failed


MARKS = {Outcome.PASS: "✓", Outcome.FAIL: "✗", Outcome.WARN: "!", Outcome.SKIP: "-"}


@dataclass(frozen=True)
class Result:
    """One line: what was checked, what was found, and — when it failed — how to fix it."""

    name: str
    outcome: Outcome
    detail: str
    fix: str = ""

    @staticmethod
    def ok(name: str, detail: str) -> Result:
        return Result(name, Outcome.PASS, detail)

    @staticmethod
    def fail(name: str, detail: str, fix: str) -> Result:
        return Result(name, Outcome.FAIL, detail, fix)

    @staticmethod
    def warn(name: str, detail: str, fix: str) -> Result:
        return Result(name, Outcome.WARN, detail, fix)

    @staticmethod
    def skip(name: str, why: str) -> Result:
        return Result(name, Outcome.SKIP, why)


@dataclass
class Doctor:
    """What the checks share: the config (once loaded) and the Matrix probe (once logged in)."""

    config_path: Path | None
    environ: Mapping[str, str]
    overrides: dict[str, Path | None] = field(default_factory=dict)
    config: Config | None = None
    matrix: Any = None  # bot.doctor.matrix.MatrixProbe, set by the homeserver check
    logged_in: bool = False
    bot_device: str | None = None  # the bot's own device (its token's or saved session's), once known
    encrypted_rooms: list[str] = field(default_factory=list)


Check = Callable[[Doctor], Awaitable[list[Result]]]


def healthy(results: list[Result]) -> bool:
    return not any(r.outcome is Outcome.FAIL for r in results)


def to_text(results: list[Result]) -> str:
    lines = []
    for r in results:
        line = f"{MARKS[r.outcome]} {r.name}: {r.detail}"
        if r.fix:
            line += f" — fix: {r.fix}"
        lines.append(line)
    failed = sum(r.outcome is Outcome.FAIL for r in results)
    warned = sum(r.outcome is Outcome.WARN for r in results)
    summary = "all checks pass" if not failed else f"{failed} check(s) failed"
    lines.append(f"{summary}; {warned} warning(s)" if warned else summary)
    return "\n".join(lines)


def to_json(results: list[Result]) -> str:
    data = {
        "ok": healthy(results),
        "checks": [{"name": r.name, "outcome": r.outcome.value, "detail": r.detail, "fix": r.fix} for r in results],
    }
    return json.dumps(data, indent=2, ensure_ascii=False)
