"""JUnit XML as pytest writes it, read safely.

junitparser does the reading; defusedxml does the parsing, so entity-expansion tricks are refused
instead of eating memory. The file is streamed one testcase at a time (captured output dropped), so
memory stays bounded and time linear in its size. A truncated file (runner killed mid-write) still
yields the testcases that were complete before the cut, and says it was truncated.
"""

from __future__ import annotations

import math
import os
import re
import xml.etree.ElementTree as ET  # builds the per-testcase roots; parsing goes through defusedxml
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser
from junitparser import JUnitXml, JUnitXmlError
from junitparser import TestCase as JTestCase

from bot.artifacts.controls import escape_name, escape_text, has_controls
from bot.artifacts.safeopen import Unsafe, open_confined
from bot.artifacts.timefmt import parse_time
from bot.model import TestCase, TestStatus

# ``<tier>__<source>__<file>.xml`` as cc-ci names them.
_NAME = re.compile(r"^(?P<tier>[^_]+(?:_[^_]+)*?)__(?P<source>.+?)__(?P<file>.+)\.xml$")
FEED_BYTES = 64 * 1024
# A single tag or attribute (a 50 MB failure message) bigger than this stops the read: expat holds it whole.
MAX_TOKEN_BYTES = 256 * 1024 * 1024
MAX_CASES = 200_000  # testcases kept per file
MAX_TEXT = 20_000  # default failure text kept per testcase (evidence.max_failure_chars)


@dataclass
class JunitFile:
    """The testcases of one JUnit file and, when it could not be read whole, why."""

    path: Path
    tier: str
    source: str
    tests: list[TestCase] = field(default_factory=list)
    timestamp: float | None = None
    problem: str | None = None
    escaped: bool = False  # a test name had control characters (shown escaped)


def tier_and_source(filename: str) -> tuple[str, str]:
    """Split cc-ci's file name; files named otherwise keep their stem as the tier."""
    match = _NAME.match(filename)
    if match:
        return match["tier"], match["source"]
    return Path(filename).stem, "unknown"


def read_junit(path: Path, relpath: str, *, root: Path | None = None, max_text: int = MAX_TEXT) -> JunitFile:
    """Read one file; never raises for bad content, only reports it in ``problem``.

    ``root`` is the run dir the file must stay inside (see :mod:`bot.artifacts.safeopen`).
    """
    tier, source = tier_and_source(path.name)
    out = JunitFile(path=path, tier=tier, source=source)
    try:
        handle = open_confined(path, root)
    except Unsafe as exc:
        out.problem = exc.reason
        return out
    except OSError as exc:
        out.problem = f"cannot read ({exc.strerror or exc})"
        return out
    with handle:
        if os.fstat(handle.fileno()).st_size == 0:
            out.problem = "empty file"
            return out
        _stream(handle, relpath, out, max_text)
    return out


def _safe_ms(case: JTestCase) -> int:
    try:
        seconds = case.time or 0.0
        return round(seconds * 1000) if math.isfinite(seconds) and 0 <= seconds < 1e9 else 0
    except (ValueError, TypeError, OverflowError):
        return 0


def _case(case: JTestCase, tier: str, source: str, relpath: str, max_text: int) -> tuple[TestCase, bool]:
    """The testcase, and whether its name had control characters (shown escaped)."""
    status = TestStatus.PASS
    message = text = ""
    for result in case.result:
        kind = type(result).__name__.lower()
        status = {"failure": TestStatus.FAIL, "error": TestStatus.ERROR}.get(kind, TestStatus.SKIP)
        message = result.message or ""
        text = result.text or ""
        if status.is_failure:
            break
    name = case.name or "?"
    classname = case.classname or ""
    test = TestCase(
        tier=escape_name(tier),
        source=escape_name(source),
        name=escape_name(name),
        classname=escape_name(classname),
        status=status,
        ms=_safe_ms(case),
        junit_file=escape_name(relpath),
        message=escape_text(message[:max_text]),
        text=escape_text(text[:max_text]),
    )
    return test, has_controls(name + classname + tier + source + relpath)


def _stream(handle: BinaryIO, relpath: str, out: JunitFile, max_text: int) -> None:
    """Collect complete testcases one by one, dropping each element once read (bounded memory).

    Linear in the file's size: expat (before 2.6) re-scans a token that spans several feeds from its
    start on every feed, so a 50 MB ``message`` attribute fed in 64 KiB pieces took about a minute.
    Here a feed that completes no element doubles the next one, so a long token is re-scanned a
    logarithmic number of times; one token above :data:`MAX_TOKEN_BYTES` stops the read.
    """
    parser = DefusedXMLParser(target=ET.TreeBuilder(), forbid_dtd=False, forbid_entities=True, forbid_external=True)
    pull: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"), _parser=parser)
    chunk = FEED_BYTES
    pending = 0  # bytes fed since the last event
    roots: list[str] = []
    try:
        while True:
            data = handle.read(chunk)
            if not data:
                pull.close()
                _events(pull, relpath, out, max_text, roots)
                return
            pull.feed(data)
            if _events(pull, relpath, out, max_text, roots):
                chunk, pending = FEED_BYTES, 0
            else:
                pending += len(data)
                if pending > MAX_TOKEN_BYTES:
                    out.problem = (
                        f"one XML token is larger than {MAX_TOKEN_BYTES:,} bytes; "
                        f"{len(out.tests)} complete testcase(s) kept"
                    )
                    return
                chunk = min(max(chunk, pending), MAX_TOKEN_BYTES)
            if len(out.tests) >= MAX_CASES:
                out.problem = f"more than {MAX_CASES:,} testcases; the rest is not read"
                return
    except DefusedXmlException as exc:
        out.problem = f"refused: XML uses DTD/entity declarations ({type(exc).__name__})"
    except ET.ParseError as exc:
        out.problem = f"malformed or truncated XML ({exc}); {len(out.tests)} complete testcase(s) kept"
    except (JUnitXmlError, ValueError) as exc:
        out.problem = f"not a JUnit file ({exc})"
    except OSError as exc:
        out.problem = f"cannot read ({exc.strerror or exc})"


def _events(pull: ET.XMLPullParser[ET.Element], relpath: str, out: JunitFile, max_text: int, roots: list[str]) -> bool:
    """Handle the events parsed so far; whether there were any. ``roots`` receives the root's tag."""
    seen = False
    for item in pull.read_events():
        seen = True
        if not isinstance(item, tuple):
            continue
        event, elem = cast(tuple[str, Any], item)
        if not isinstance(elem, ET.Element):
            continue
        if event == "start":
            if not roots:
                roots.append(elem.tag)
                if elem.tag not in ("testsuites", "testsuite"):
                    raise JUnitXmlError(f"root element is <{elem.tag}>, not <testsuites> or <testsuite>")
            if elem.tag == "testsuite" and out.timestamp is None:
                out.timestamp = parse_time(elem.get("timestamp"))
        elif elem.tag in ("system-out", "system-err"):
            elem.text = None
        elif elem.tag == "testcase":
            holder = ET.Element("testsuites")
            suite = ET.SubElement(holder, "testsuite")
            suite.append(elem)
            for case in next(iter(JUnitXml.fromroot(cast(Any, holder)))):
                test, escaped = _case(case, out.tier, out.source, relpath, max_text)
                out.tests.append(test)
                out.escaped = out.escaped or escaped
            elem.clear()
    return seen
