"""JUnit XML as pytest writes it, read safely and in one pass.

expat's handlers build the store's :class:`TestCase` records as the file streams past: no element
tree, no second walk over junitparser's objects. What junitparser would read is kept (a testcase's
first failure or error wins over a skip; a result's message and text; the suite's timestamp);
captured output is never collected. Entity declarations and external references are refused by
handlers that raise (what defusedxml does), so expansion tricks cannot eat memory. Memory stays
bounded and time linear in the file's size. A truncated file (runner killed mid-write) still yields
the testcases that were complete before the cut, and says it was truncated.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from xml.parsers import expat

from bot.artifacts.controls import escape_name, escape_text, has_controls
from bot.artifacts.safeopen import Unsafe, open_confined
from bot.artifacts.timefmt import parse_time
from bot.linear_regex import linear
from bot.model.records import TestCase, TestStatus

# ``<tier>__<source>__<file>.xml`` as cc-ci names them; RE2, as everything that reads run-dir names.
_NAME = linear(r"^(?P<tier>[^_]+(?:_[^_]+)*?)__(?P<source>.+?)__(?P<file>.+)\.xml$")
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


def suite_file(filename: str) -> str | None:
    """The test file's stem in cc-ci's name (``test_upgrade`` of ``upgrade__cc-ci__test_upgrade.xml``)."""
    match = _NAME.match(filename)
    return match["file"] if match else None


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


class _Refused(Exception):
    """The file declares entities or refers outside itself: refused, as defusedxml would."""


class _NotJunit(Exception):
    """The root element is not a JUnit one."""


_RESULTS = {"failure": TestStatus.FAIL, "error": TestStatus.ERROR, "skipped": TestStatus.SKIP}


def _ms(value: str | None) -> int:
    try:
        seconds = float(value or 0)
    except (ValueError, OverflowError):
        return 0
    return round(seconds * 1000) if math.isfinite(seconds) and 0 <= seconds < 1e9 else 0


class _Reader:
    """expat's handlers: testcases straight into :class:`TestCase` records, with bounded text."""

    def __init__(self, out: JunitFile, relpath: str, max_text: int) -> None:
        self.out = out
        self.relpath = relpath
        self.max_text = max_text
        self.depth = 0
        self.root: str | None = None
        self.case: dict[str, str] | None = None  # the open testcase's attributes
        self.case_depth = 0
        self.status = TestStatus.PASS
        self.message = ""
        self.text: list[str] | None = None  # collecting the open result's text
        self.text_len = 0
        self.result_depth = 0
        self.result_text = ""  # the last result's text, until its testcase ends
        self.events = 0  # elements completed: a feed that completes none is growing one token

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        self.depth += 1
        if self.root is None:
            self.root = tag
            if tag not in ("testsuites", "testsuite"):
                raise _NotJunit(f"root element is <{tag}>, not <testsuites> or <testsuite>")
        if tag == "testcase":
            self.case, self.case_depth = attrs, self.depth
            self.status, self.message = TestStatus.PASS, ""
            self.text = None
        elif tag == "testsuite" and self.out.timestamp is None:
            self.out.timestamp = parse_time(attrs.get("timestamp"))
        elif (
            self.case is not None
            and self.depth == self.case_depth + 1
            and tag in _RESULTS
            and not self.status.is_failure
        ):
            # a result of the open testcase: the first failure or error wins; a later one is not read
            self.status, self.message = _RESULTS[tag], attrs.get("message") or ""
            self.text, self.text_len, self.result_depth = [], 0, self.depth

    def data(self, text: str) -> None:
        if self.text is not None and self.depth == self.result_depth and self.text_len < self.max_text:
            self.text.append(text)
            self.text_len += len(text)

    def end(self, tag: str) -> None:
        self.events += 1
        if self.text is not None and self.depth == self.result_depth:
            self.result_text = "".join(self.text)
            self.text = None
        if tag == "testcase" and self.case is not None and self.depth == self.case_depth:
            self._emit(self.case)
            self.case = None
        self.depth -= 1

    def _emit(self, attrs: dict[str, str]) -> None:
        out = self.out
        name = attrs.get("name") or "?"
        classname = attrs.get("classname") or ""
        text = self.result_text if self.status is not TestStatus.PASS else ""
        out.tests.append(
            TestCase(
                tier=escape_name(out.tier),
                source=escape_name(out.source),
                name=escape_name(name),
                classname=escape_name(classname),
                status=self.status,
                ms=_ms(attrs.get("time")),
                junit_file=escape_name(self.relpath),
                message=escape_text(self.message[: self.max_text]),
                text=escape_text(text[: self.max_text]),
            )
        )
        self.result_text = ""
        out.escaped = out.escaped or has_controls(name + classname + out.tier + out.source + self.relpath)


def _refuse_entity(*_: object) -> None:
    raise _Refused("EntitiesForbidden")


def _refuse_external(*_: object) -> int:
    raise _Refused("ExternalReferenceForbidden")


def _parser(reader: _Reader) -> expat.XMLParserType:
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.data
    parser.EntityDeclHandler = _refuse_entity
    parser.UnparsedEntityDeclHandler = _refuse_entity
    parser.ExternalEntityRefHandler = _refuse_external
    return parser


def _stream(handle: BinaryIO, relpath: str, out: JunitFile, max_text: int) -> None:
    """Feed the file to expat, testcases kept as they complete (bounded memory).

    Linear in the file's size: expat (before 2.6) re-scans a token that spans several feeds from its
    start on every feed, so a 50 MB ``message`` attribute fed in 64 KiB pieces took about a minute.
    Here a feed that completes no element doubles the next one, so a long token is re-scanned a
    logarithmic number of times; one token above :data:`MAX_TOKEN_BYTES` stops the read.
    """
    reader = _Reader(out, relpath, max_text)
    parser = _parser(reader)
    chunk = FEED_BYTES
    pending = 0  # bytes fed since the last completed element
    try:
        while True:
            data = handle.read(chunk)
            before = reader.events
            parser.Parse(data, not data)
            if not data:
                return
            if reader.events != before:
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
    except _Refused as exc:
        out.tests.clear()
        out.problem = f"refused: XML uses DTD/entity declarations ({exc})"
    except expat.ExpatError as exc:
        out.problem = f"malformed or truncated XML ({exc}); {len(out.tests)} complete testcase(s) kept"
    except _NotJunit as exc:
        out.problem = f"not a JUnit file ({exc})"
    except OSError as exc:
        out.problem = f"cannot read ({exc.strerror or exc})"
