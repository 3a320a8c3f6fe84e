"""JUnit XML as pytest writes it, read safely.

junitparser does the reading; defusedxml does the parsing, so entity-expansion tricks are refused
instead of eating memory. A truncated file (runner killed mid-write) still yields the testcases that
were complete before the cut, and says it was truncated.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # only builds salvage roots; parsing goes through defusedxml
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from junitparser import JUnitXml, JUnitXmlError
from junitparser import TestCase as JTestCase

from bot.artifacts.timefmt import parse_time
from bot.model import TestCase, TestStatus

# ``<tier>__<source>__<file>.xml`` as cc-ci names them.
_NAME = re.compile(r"^(?P<tier>[^_]+(?:_[^_]+)*?)__(?P<source>.+?)__(?P<file>.+)\.xml$")
# Above this size the file is streamed and its captured output dropped, to keep memory bounded.
STREAM_ABOVE_BYTES = 32 * 1024 * 1024
_MAX_TEXT = 20_000


@dataclass
class JunitFile:
    """The testcases of one JUnit file and, when it could not be read whole, why."""

    path: Path
    tier: str
    source: str
    tests: list[TestCase] = field(default_factory=list)
    timestamp: float | None = None
    problem: str | None = None


def tier_and_source(filename: str) -> tuple[str, str]:
    """Split cc-ci's file name; files named otherwise keep their stem as the tier."""
    match = _NAME.match(filename)
    if match:
        return match["tier"], match["source"]
    return Path(filename).stem, "unknown"


def read_junit(path: Path, relpath: str) -> JunitFile:
    """Read one file; never raises for bad content, only reports it in ``problem``."""
    tier, source = tier_and_source(path.name)
    out = JunitFile(path=path, tier=tier, source=source)
    try:
        size = path.stat().st_size
    except OSError as exc:
        out.problem = f"cannot read ({exc.strerror or exc})"
        return out
    if size == 0:
        out.problem = "empty file"
        return out
    if size > STREAM_ABOVE_BYTES:
        _stream(path, relpath, out)
        return out
    try:
        xml = JUnitXml.fromfile(str(path), parse_func=SafeET.parse)
    except DefusedXmlException as exc:
        out.problem = f"refused: XML uses DTD/entity declarations ({type(exc).__name__})"
        return out
    except ET.ParseError as exc:
        _stream(path, relpath, out)
        out.problem = f"malformed or truncated XML ({exc}); {len(out.tests)} complete testcase(s) kept"
        return out
    except (JUnitXmlError, OSError, ValueError) as exc:
        out.problem = f"not a JUnit file ({exc})"
        return out
    for suite in xml:
        if out.timestamp is None:
            out.timestamp = parse_time(suite.timestamp)
        for case in suite:
            out.tests.append(_case(case, tier, source, relpath))
    return out


def _case(case: JTestCase, tier: str, source: str, relpath: str) -> TestCase:
    status = TestStatus.PASS
    message = text = ""
    for result in case.result:
        kind = type(result).__name__.lower()
        status = {"failure": TestStatus.FAIL, "error": TestStatus.ERROR}.get(kind, TestStatus.SKIP)
        message = result.message or ""
        text = result.text or ""
        if status.is_failure:
            break
    return TestCase(
        tier=tier,
        source=source,
        name=case.name or "?",
        classname=case.classname or "",
        status=status,
        ms=round((case.time or 0.0) * 1000),
        junit_file=relpath,
        message=message[:_MAX_TEXT],
        text=text[:_MAX_TEXT],
    )


def _stream(path: Path, relpath: str, out: JunitFile) -> None:
    """Collect complete testcases one by one, dropping each element once read (bounded memory)."""
    out.tests.clear()
    try:
        for event, elem in SafeET.iterparse(str(path), events=("start", "end")):
            if event == "start":
                if elem.tag == "testsuite" and out.timestamp is None:
                    out.timestamp = parse_time(elem.get("timestamp"))
            elif elem.tag in ("system-out", "system-err"):
                elem.text = None
            elif elem.tag == "testcase":
                holder = ET.Element("testsuites")
                suite = ET.SubElement(holder, "testsuite")
                suite.append(elem)
                for case in next(iter(JUnitXml.fromroot(cast(Any, holder)))):
                    out.tests.append(_case(case, out.tier, out.source, relpath))
                elem.clear()
    except DefusedXmlException as exc:
        out.problem = f"refused: XML uses DTD/entity declarations ({type(exc).__name__})"
    except ET.ParseError as exc:
        out.problem = f"malformed or truncated XML ({exc}); {len(out.tests)} complete testcase(s) kept"
    except OSError as exc:
        out.problem = f"cannot read ({exc.strerror or exc})"
