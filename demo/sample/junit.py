"""Reading the JUnit files the stand-in runner's pytest calls just wrote.

results.json must agree with the JUnit next to it, so its stages are read back from those
files (junitparser over defusedxml), never from what the runner believes happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree
from junitparser import Error, Failure, JUnitXml, JUnitXmlError, Skipped

TestStatus = Literal["pass", "fail", "error", "skip"]
StageStatus = Literal["pass", "fail", "error", "skip", "unver"]


class UnreadableJUnit(Exception):
    """A JUnit file that is truncated, empty or not JUnit at all."""


@dataclass(frozen=True)
class TestResult:
    """One testcase as results.json lists it, plus the failure message for callers."""

    name: str
    status: TestStatus
    ms: int
    message: str | None = None

    def as_json(self) -> dict[str, str | int]:
        return {"name": self.name, "status": self.status, "ms": self.ms}


def _load(path: Path) -> JUnitXml:
    try:
        return JUnitXml.fromfile(str(path), parse_func=defusedxml.ElementTree.parse)
    except (ParseError, JUnitXmlError, OSError) as exc:
        raise UnreadableJUnit(f"{path.name}: {exc}") from exc


def read_tests(path: Path) -> list[TestResult]:
    """The testcases of one JUnit file; raises UnreadableJUnit if it cannot be parsed."""
    tests: list[TestResult] = []
    for suite in _load(path):
        for case in suite:
            status: TestStatus = "pass"
            message: str | None = None
            for result in case.result:
                if isinstance(result, Failure):
                    status, message = "fail", result.message
                elif isinstance(result, Error) and status != "fail":
                    status, message = "error", result.message
                elif isinstance(result, Skipped) and status == "pass":
                    status, message = "skip", result.message
            tests.append(TestResult(str(case.name), status, round(float(case.time or 0.0) * 1000), message))
    return tests


def stage_status(tests: list[TestResult]) -> StageStatus:
    """A tier's status from its tests: a failure beats an error beats a pass beats a skip."""
    statuses = {t.status for t in tests}
    for status in ("fail", "error", "pass", "skip"):
        if status in statuses:
            return status
    return "unver"


def restamp(path: Path, started: datetime, hostname: str) -> None:
    """Set the suite's timestamp and host to the scenario's, leaving pytest's content as is."""
    xml = _load(path)
    for suite in xml:
        suite.timestamp = started.replace(microsecond=0).isoformat()
        suite.hostname = hostname
    xml.write(str(path))
