"""Does a pattern occur anywhere in a run's text: its log and its JUnit files, read in bounded blocks.

`learn` asks this of every green run (elastic-recheck's rule: a fingerprint must not match a successful
run). Each file is opened as every run file is (:mod:`bot.artifacts.safeopen`: confined to the run, a
regular file, no link), read in blocks of whole lines up to a cap, and searched with RE2, whose time is
linear in the text whatever the pattern. A match that would span two blocks is not seen; a line longer
than a block is searched in pieces.
"""

from __future__ import annotations

import html
import io
import os
from dataclasses import dataclass

from bot.artifacts.layout import Layout
from bot.artifacts.safeopen import Unsafe, dir_in_run, open_in_run
from bot.linear_regex import LinearPattern

BLOCK_BYTES = 1024 * 1024
FILE_CAP_BYTES = 16 * 1024 * 1024  # per file; the rest of a bigger file is not read (counted as partial)
MAX_JUNIT_FILES = 64
EXCERPT_CHARS = 200


@dataclass(frozen=True)
class TextHit:
    path: str  # inside the run dir
    excerpt: str


@dataclass(frozen=True)
class RunText:
    """One run searched: the first match (or None), whether any file could be read, files cut at the cap."""

    hit: TextHit | None
    read: bool
    partial: int = 0


def text_files(run_dir: str, layout: Layout) -> list[str]:
    """The run's log and JUnit files (paths inside the run dir), the log first."""
    files = [layout.log]
    junit = dir_in_run(run_dir, layout.junit_dir)
    if junit is not None:
        try:
            names = sorted(e.name for e in os.scandir(junit) if e.name.endswith(".xml"))
        except OSError:
            names = []
        files += [layout.junit(n) for n in names[:MAX_JUNIT_FILES]]
    return files


def search_run(run_dir: str, files: list[str], pattern: LinearPattern, cap: int = FILE_CAP_BYTES) -> RunText:
    """The first match of ``pattern`` in the run's ``files``, in their order."""
    read = False
    partial = 0
    for relative in files:
        try:
            handle = open_in_run(run_dir, relative)
        except (Unsafe, OSError):
            continue
        read = True
        with handle:
            hit, cut = _search_file(handle, relative, pattern, cap, xml=relative.endswith(".xml"))
        partial += cut
        if hit is not None:
            return RunText(hit, True, partial)
    return RunText(None, read, partial)


def _search_file(
    handle: io.BufferedReader, relative: str, pattern: LinearPattern, cap: int, xml: bool
) -> tuple[TextHit | None, int]:
    reader = handle.read
    left = cap
    carry = b""
    while left > 0:
        block = reader(min(BLOCK_BYTES, left))
        if not block:
            break
        left -= len(block)
        data = carry + block
        cut = data.rfind(b"\n") + 1
        if cut == 0 and len(data) < BLOCK_BYTES:  # no newline yet: wait for more, unless a line fills a block
            carry = data
            continue
        whole, carry = (data[:cut], data[cut:]) if cut else (data, b"")
        hit = _search(whole, relative, pattern, xml)
        if hit is not None:
            return hit, 0
    if carry:
        hit = _search(carry, relative, pattern, xml)
        if hit is not None:
            return hit, 0
    return None, int(left <= 0 and bool(reader(1)))


def _search(data: bytes, relative: str, pattern: LinearPattern, xml: bool) -> TextHit | None:
    text = data.decode("utf-8", "replace")
    if xml and "&" in text:
        text = html.unescape(text)  # JUnit's entities, so the text reads as the failure text does
    found = pattern.search(text)
    if found is None:
        return None
    # The matching line, or as much of it around the match as an excerpt holds (JUnit is often one line).
    line_start = text.rfind("\n", 0, found.start()) + 1
    line_end = text.find("\n", found.end())
    line_end = line_end if line_end >= 0 else len(text)
    room = max(0, EXCERPT_CHARS - (found.end() - found.start())) // 2
    start, end = max(line_start, found.start() - room), min(line_end, found.end() + room)
    return TextHit(relative, text[start:end].strip()[:EXCERPT_CHARS])
