"""Does a pattern occur anywhere in a run's text: its log and its JUnit files, read in bounded blocks.

`learn` asks this of every green run (elastic-recheck's rule: a fingerprint must not match a successful
run). Each file is opened as every run file is (:mod:`bot.artifacts.safeopen`: confined to the run, a
regular file, no link), read in blocks of whole lines up to a cap, and searched with RE2, whose time is
linear in the text whatever the pattern. A match that would span two blocks is not seen; a line longer
than a block is searched in pieces.
"""

from __future__ import annotations

import errno
import html
import io
import os
import stat
from dataclasses import dataclass

from bot.artifacts.layout import Layout
from bot.artifacts.safeopen import Unsafe, open_dir_in_run, open_in_run
from bot.linear_regex import LinearPattern

BLOCK_BYTES = 1024 * 1024
FILE_CAP_BYTES = 16 * 1024 * 1024  # per file; the rest of a bigger file is not read (counted as partial)
MAX_JUNIT_FILES = 64
EXCERPT_CHARS = 200
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC


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


def search_run(run_dir: str, layout: Layout, pattern: LinearPattern, cap: int = FILE_CAP_BYTES) -> RunText:
    """The first match of ``pattern`` in the run's log, then its JUnit files (by name, at most 64).

    Files are opened relative to descriptors of the run dir and its JUnit dir, without following a
    link (``O_NOFOLLOW``): one ``open`` per file instead of resolving every path again. A file that is
    a link is opened the slow way (:func:`bot.artifacts.safeopen.open_in_run`: it must stay inside the run).
    """
    try:
        run_fd = os.open(run_dir, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)
    except OSError:
        return RunText(None, False)
    try:
        found = _search_in(run_fd, run_dir, [(run_fd, layout.log, layout.log)], pattern, cap)
        if found.hit is not None:
            return found
        try:
            junit_fd = open_dir_in_run(run_dir, layout.junit_dir)
        except (Unsafe, OSError):
            return found
        try:
            names = sorted(e.name for e in os.scandir(junit_fd) if e.name.endswith(".xml"))[:MAX_JUNIT_FILES]
            files = [(junit_fd, n, layout.junit(n)) for n in names]
            more = _search_in(run_fd, run_dir, files, pattern, cap)
        finally:
            os.close(junit_fd)
        return RunText(more.hit, found.read or more.read, found.partial + more.partial)
    finally:
        os.close(run_fd)


def _search_in(
    run_fd: int, run_dir: str, files: list[tuple[int, str, str]], pattern: LinearPattern, cap: int
) -> RunText:
    read = False
    partial = 0
    for dir_fd, name, relative in files:
        try:
            handle = _open_at(dir_fd, name, run_dir, relative)
        except (Unsafe, OSError):
            continue
        read = True
        with handle:
            hit, cut = _search_file(handle, relative, pattern, cap, xml=relative.endswith(".xml"))
        partial += cut
        if hit is not None:
            return RunText(hit, True, partial)
    return RunText(None, read, partial)


def _open_at(dir_fd: int, name: str, run_dir: str, relative: str) -> io.BufferedReader:
    if "/" in name:
        return open_in_run(run_dir, relative)
    try:
        fd = os.open(name, _FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # a link: it must stay inside the run
            return open_in_run(run_dir, relative)
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise Unsafe(relative, "not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


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
