"""Paging a runner log of any size, so a page of it opens at once.

A :class:`LineIndex` remembers where some lines start — roughly every ``stride`` lines, and at least every
:data:`MAX_ANCHOR_GAP` bytes — so a page deep in a multi-GiB log is found by a jump to the nearest
remembered line and a short count, not by reading the file from the top. The index is built by counting
newlines (``bytearray.count``, C speed, ~0.3 s/GiB) in fixed blocks, and only *as far as a request
needs*: the first page costs nothing, a page at line 2,000,000 costs a count up to it, and the count is
kept for the next request. Indexes live in a small in-process LRU keyed by the file's identity, size and
mtime, so a log that changes gets a new index rather than wrong line numbers.

Everything here is synchronous and blocking; the web handlers call it through ``asyncio.to_thread``.
Lines are decoded as UTF-8 with replacement and returned unescaped: escaping (and masking secrets, see
:mod:`bot.masking`) is the renderer's job.
"""

from __future__ import annotations

import io
import os
import threading
from array import array
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bot.artifacts.safeopen import open_regular


class Cancelled(Exception):
    """The request that wanted this page is gone or out of time; the counting done so far is kept."""


_LOCAL = threading.local()


@contextmanager
def cancellable(cancel: threading.Event) -> Iterator[None]:
    """Within this block (in this thread), counting a log stops at the next block once ``cancel`` is set."""
    _LOCAL.cancel = cancel
    try:
        yield
    finally:
        _LOCAL.cancel = None


def check_cancel() -> None:
    cancel: threading.Event | None = getattr(_LOCAL, "cancel", None)
    if cancel is not None and cancel.is_set():
        raise Cancelled


BLOCK_BYTES = 4 * 1024 * 1024
DEFAULT_STRIDE = 4096
# Lines so long that `stride` of them span more than this get an extra index entry, so the count
# from an index entry to any line stays short whatever the line lengths.
MAX_ANCHOR_GAP = 8 * 1024 * 1024
DEFAULT_COUNT = 500
MAX_COUNT = 10_000
MAX_LINE_CHARS = 4000
# A UTF-8 character is at most 4 bytes, so this many bytes always decode to more than MAX_LINE_CHARS.
_MAX_LINE_BYTES = 4 * MAX_LINE_CHARS + 4
_SKIP_CHUNK = 1024 * 1024
# Reads while moving from an index entry to a page: small, since the distance is a stride or so (~0.5 MiB).
_ADVANCE_BYTES = 256 * 1024
CACHE_ENTRIES = 64  # an index is small (about 16 bytes per 4096 lines): a sweep's red logs fit


@dataclass(frozen=True)
class LogPage:
    """``count`` consecutive lines of a log, numbered from 1, with what a pager needs to link around.

    ``total_lines`` is ``None`` when the page was found without counting the whole file (the point of
    the index); it is known whenever ``at_end`` is true.
    """

    path: Path
    first_line: int
    lines: list[tuple[int, str]]
    total_bytes: int
    start_byte: int
    end_byte: int
    prev_start: int | None
    next_start: int | None
    at_end: bool
    total_lines: int | None = None

    @property
    def last_line(self) -> int:
        """The number of the last line on the page (``first_line - 1`` for an empty page)."""
        return self.lines[-1][0] if self.lines else self.first_line - 1


class LineIndex:
    """Where some lines of one version (size) of one file start, counted only as far as asked.

    Entries are ``(line number, byte offset)`` pairs; the first is ``(1, 0)``. The lock serialises the
    counting, so two requests for the same log never count the same bytes twice.
    """

    def __init__(self, size: int, stride: int = DEFAULT_STRIDE, block_bytes: int = BLOCK_BYTES) -> None:
        if stride < 1 or block_bytes < 1:
            raise ValueError("stride and block_bytes must be positive")
        self.size = size
        self.stride = stride
        self.block_bytes = block_bytes
        self._sub_bytes = max(1, block_bytes // 64)  # where in a block an entry can be placed
        self._lines = array("q", [1])
        self._offsets = array("q", [0])
        self._scanned = 0  # bytes counted so far
        self._newlines = 0  # newlines in those bytes
        self._ends_with_newline = False
        self._lock = threading.Lock()

    @property
    def scanned_bytes(self) -> int:
        return self._scanned

    @property
    def entries(self) -> int:
        return len(self._lines)

    @property
    def complete(self) -> bool:
        return self._scanned >= self.size

    @property
    def total_lines(self) -> int | None:
        """Lines in the file (a last line without a newline counts), once it has been counted to the end."""
        if not self.complete:
            return None
        partial = self.size > 0 and not self._ends_with_newline
        return self._newlines + (1 if partial else 0)

    def locate(self, handle: io.BufferedReader, line: int) -> int | None:
        """The byte offset where ``line`` starts, or ``None`` past the last line."""
        with self._lock:
            self._count(handle, line - 1)
            i = bisect_right(self._lines, line) - 1
            anchor_line, pos = self._lines[i], self._offsets[i]
        pos, skipped = _advance(handle, pos, line - anchor_line, self.size, self.block_bytes)
        if skipped < line - anchor_line or pos >= self.size:
            return None
        return pos

    def finish(self, handle: io.BufferedReader) -> int:
        """Count to the end of the file and return the number of lines."""
        with self._lock:
            self._count(handle, None)
        total = self.total_lines
        assert total is not None
        return total

    def _count(self, handle: io.BufferedReader, newlines_wanted: int | None) -> None:
        """Count on from where the last call stopped until ``newlines_wanted`` newlines are seen (or EOF)."""
        if self.complete or (newlines_wanted is not None and self._newlines >= newlines_wanted):
            return
        buf = bytearray(self.block_bytes)
        view = memoryview(buf)
        while not self.complete:
            check_cancel()  # between blocks: the index stays consistent and the next reader continues
            base = self._scanned
            handle.seek(base)
            n = handle.readinto(view[: min(self.block_bytes, self.size - base)])
            if not n:  # the file shrank after it was opened: what was there is all there is
                self.size = base
                if base:
                    handle.seek(base - 1)
                    self._ends_with_newline = handle.read(1) == b"\n"
                break
            for lo in range(0, n, self._sub_bytes):
                hi = min(n, lo + self._sub_bytes)
                found = buf.count(b"\n", lo, hi)
                if found:
                    self._newlines += found
                    line = self._newlines + 1
                    gap = base + hi - self._offsets[-1]
                    if line - self._lines[-1] >= self.stride or gap >= MAX_ANCHOR_GAP:
                        self._lines.append(line)
                        self._offsets.append(base + buf.rfind(b"\n", lo, hi) + 1)
                self._scanned = base + hi
                if self.complete:
                    self._ends_with_newline = buf[hi - 1] == 0x0A
                if newlines_wanted is not None and self._newlines >= newlines_wanted:
                    return


def _nth_newline_end(buf: bytearray, lo: int, hi: int, n: int) -> int:
    """The position just after the ``n``-th newline in ``buf[lo:hi]``, which holds at least ``n``.

    Bisection with ``count`` keeps the work in C; only the last few hundred bytes are walked with ``index``.
    """
    while hi - lo > 512:
        mid = (lo + hi) // 2
        found = buf.count(b"\n", lo, mid)
        if found >= n:
            hi = mid
        else:
            n -= found
            lo = mid
    for _ in range(n):
        lo = buf.index(b"\n", lo, hi) + 1
    return lo


def _advance(handle: io.BufferedReader, pos: int, n: int, size: int, block_bytes: int) -> tuple[int, int]:
    """Move past ``n`` newlines from ``pos`` (not beyond ``size``): ``(new position, newlines passed)``."""
    if n <= 0:
        return pos, 0
    buf = bytearray(min(block_bytes, _ADVANCE_BYTES, max(1, size - pos)))
    view = memoryview(buf)
    passed = 0
    while passed < n and pos < size:
        handle.seek(pos)
        got = handle.readinto(view[: min(len(buf), size - pos)])
        if not got:
            break
        found = buf.count(b"\n", 0, got)
        if passed + found >= n:
            return pos + _nth_newline_end(buf, 0, got, n - passed), n
        passed += found
        pos += got
    return pos, passed


def _text(raw: bytes, line_bytes: int) -> str:
    """One line's bytes (newline and a CR before it dropped) as text, cut at MAX_LINE_CHARS with a marker."""
    body = raw[:-1] if raw.endswith(b"\n") else raw
    if body.endswith(b"\r"):
        body = body[:-1]
    text = body.decode("utf-8", "replace")
    if len(text) > MAX_LINE_CHARS or line_bytes > len(raw):
        return f"{text[:MAX_LINE_CHARS]} … [line cut: {line_bytes:,} bytes]"
    return text


def _read_lines(
    handle: io.BufferedReader, pos: int, first: int, count: int, size: int
) -> tuple[list[tuple[int, str]], int]:
    """Up to ``count`` lines from ``pos``: ``(numbered lines, position after them)``.

    A line longer than the cut is read only up to it; the rest is skipped in chunks, so one 1 GiB line
    (binary junk) costs a read, not 1 GiB of memory.
    """
    handle.seek(pos)
    out: list[tuple[int, str]] = []
    while len(out) < count and pos < size:
        raw = handle.readline(min(_MAX_LINE_BYTES, size - pos))
        if not raw:
            break
        pos += len(raw)
        line_bytes = len(raw)
        if not raw.endswith(b"\n"):
            while pos < size:
                rest = handle.readline(min(_SKIP_CHUNK, size - pos))
                if not rest:
                    break
                pos += len(rest)
                line_bytes += len(rest)
                if rest.endswith(b"\n"):
                    break
        out.append((first + len(out), _text(raw, line_bytes)))
    return out, pos


class _IndexCache:
    """The last few files' indexes, one per (path, stride, block size); a changed file replaces its entry."""

    def __init__(self, entries: int = CACHE_ENTRIES) -> None:
        self.entries = entries
        self._items: OrderedDict[tuple[str, int, int], tuple[tuple[int, ...], LineIndex]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: Path, handle: io.BufferedReader, stride: int, block_bytes: int) -> LineIndex:
        st = os.fstat(handle.fileno())
        version = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        key = (os.fspath(path), stride, block_bytes)
        with self._lock:
            item = self._items.get(key)
            if item is not None and item[0] == version:
                self._items.move_to_end(key)
                return item[1]
            index = LineIndex(st.st_size, stride, block_bytes)
            self._items[key] = (version, index)
            self._items.move_to_end(key)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)
            return index

    def peek(self, path: Path, stride: int, block_bytes: int) -> LineIndex | None:
        st = path.stat()
        with self._lock:
            item = self._items.get((os.fspath(path), stride, block_bytes))
        if item is None or item[0] != (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns):
            return None
        return item[1]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_CACHE = _IndexCache()


def clear_cache() -> None:
    """Forget every index (tests and benchmarks use it to measure a cold start)."""
    _CACHE.clear()


def cached_index(path: Path, *, stride: int = DEFAULT_STRIDE, block_bytes: int = BLOCK_BYTES) -> LineIndex | None:
    """The index kept for the file's current version, if any: how far it has been counted, for status and tests."""
    return _CACHE.peek(path, stride, block_bytes)


def _check(line: int, count: int) -> None:
    if line < 1:
        raise ValueError(f"line numbers start at 1, got {line}")
    if not 1 <= count <= MAX_COUNT:
        raise ValueError(f"count must be 1..{MAX_COUNT}, got {count}")


def _page(path: Path, handle: io.BufferedReader, index: LineIndex, start: int, count: int) -> LogPage:
    size = index.size
    pos = index.locate(handle, start)
    if pos is None:  # past the end: the file ends within the index's last stretch, so finishing is cheap
        total = index.finish(handle)
        return LogPage(
            path=path,
            first_line=start,
            lines=[],
            total_bytes=size,
            start_byte=size,
            end_byte=size,
            prev_start=max(1, total - count + 1) if total else None,
            next_start=None,
            at_end=True,
            total_lines=total,
        )
    lines, end = _read_lines(handle, pos, start, count, size)
    at_end = end >= size
    return LogPage(
        path=path,
        first_line=start,
        lines=lines,
        total_bytes=size,
        start_byte=pos,
        end_byte=end,
        prev_start=max(1, start - count) if start > 1 else None,
        next_start=None if at_end else start + len(lines),
        at_end=at_end,
        total_lines=start + len(lines) - 1 if at_end else index.total_lines,
    )


def read_page(
    path: Path,
    start_line: int = 1,
    count: int = DEFAULT_COUNT,
    *,
    stride: int = DEFAULT_STRIDE,
    block_bytes: int = BLOCK_BYTES,
) -> LogPage:
    """Lines ``start_line`` .. ``start_line + count - 1``, counting the file only as far as them.

    Past the last line: an empty page with ``at_end`` and ``total_lines`` set. A missing file raises
    ``FileNotFoundError``.
    """
    _check(start_line, count)
    with open_regular(path) as handle:
        index = _CACHE.get(path, handle, stride, block_bytes)
        return _page(path, handle, index, start_line, count)


def read_tail(
    path: Path, count: int = DEFAULT_COUNT, *, stride: int = DEFAULT_STRIDE, block_bytes: int = BLOCK_BYTES
) -> LogPage:
    """The last ``count`` lines, numbered.

    Trade-off: the end of a file can be read at once, but its line numbers cannot — links to ``#L<n>``
    need them — so the first tail of a log counts the whole file (~0.3 s/GiB from the page cache, more
    from a cold disk). The count is kept in the index: later tails, and pages anywhere, are instant
    until the file changes.
    """
    _check(1, count)
    with open_regular(path) as handle:
        index = _CACHE.get(path, handle, stride, block_bytes)
        total = index.finish(handle)
        return _page(path, handle, index, max(1, total - count + 1), count)


def page_around(
    path: Path,
    line: int,
    count: int = DEFAULT_COUNT,
    *,
    stride: int = DEFAULT_STRIDE,
    block_bytes: int = BLOCK_BYTES,
) -> LogPage:
    """A page with ``line`` in its middle (or as near as the start of the file allows), for ``#L<n>`` links."""
    _check(line, count)
    return read_page(path, max(1, line - count // 2), count, stride=stride, block_bytes=block_bytes)
