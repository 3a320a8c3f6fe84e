"""Finding the lines that name a failure in a runner log of any size.

The log is read in fixed-size blocks; a block with none of the needles costs two C-level scans
(``bytes.find`` and ``bytes.count``), so a multi-GiB log streams at close to disk speed and memory
stays at a couple of blocks. Lines are numbered from 1 so links can point at ``#L<n>``.
"""

from __future__ import annotations

import io
import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.artifacts.safeopen import Unsafe, open_confined

BLOCK_BYTES = 256 * 1024  # measured: larger blocks are no faster and cost RSS
# A "line" longer than this (binary junk, a minified blob) is cut so the carry-over stays bounded.
MAX_LINE_BYTES = 1024 * 1024
MAX_LINE_CHARS = 400
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# pytest's 200-column separator rules say nothing in chat; five characters keep their shape.
_RULE = re.compile(r"([_=\-*#~])\1{7,}")


@dataclass(frozen=True)
class LogHit:
    """A line containing ``needle``, with numbered context lines around it.

    After :func:`merge_hits`, one hit may stand for several nearby lines: ``marks`` lists them all.
    """

    needle: str
    line: int
    context: tuple[tuple[int, str], ...]
    marks: tuple[int, ...] = ()

    @property
    def marked(self) -> tuple[int, ...]:
        return self.marks or (self.line,)

    @property
    def excerpt(self) -> str:
        marked = set(self.marked)
        return "\n".join(f"{n:>6}{'>' if n in marked else ' '} {text}" for n, text in self.context)


def merge_hits(hits: list[LogHit]) -> list[LogHit]:
    """Join hits whose context windows overlap or touch, so one log passage is quoted once."""
    merged: list[LogHit] = []
    for hit in sorted(hits, key=lambda h: h.line):
        if merged and hit.context and merged[-1].context and hit.context[0][0] <= merged[-1].context[-1][0] + 1:
            last = merged[-1]
            lines = dict(last.context)
            lines.update(hit.context)
            merged[-1] = LogHit(
                needle=last.needle,
                line=last.line,
                context=tuple(sorted(lines.items())),
                marks=tuple(sorted({*last.marked, *hit.marked})),
            )
        else:
            merged.append(hit)
    return merged


@dataclass
class LogScan:
    hits: list[LogHit] = field(default_factory=list)
    lines: int = 0
    problem: str | None = None


def clean(raw: bytes) -> str:
    """Bytes of a log line to printable text: invalid UTF-8 replaced, control characters dropped."""
    text = raw.decode("utf-8", "replace").rstrip("\r")
    text = _RULE.sub(lambda m: m[1] * 5, _CONTROL.sub("", text))
    return text if len(text) <= MAX_LINE_CHARS else text[: MAX_LINE_CHARS - 1] + "…"


class _Reader:
    """Hands out runs of whole lines from one reused buffer, so scanning allocates nothing per block.

    The partial line at the end of a read is read again next time (a seek back), rather than carried
    over and joined onto the next block.
    """

    def __init__(self, handle: io.BufferedReader, block_bytes: int) -> None:
        self.handle = handle
        self.buf = bytearray(block_bytes + 1)  # +1: room for the newline a last line may lack
        self.view = memoryview(self.buf)
        self.block_bytes = block_bytes

    def next(self) -> tuple[bytes | bytearray, int]:
        """``(buffer, limit)``: ``buffer[:limit]`` is whole lines ending in ``\\n``; limit 0 at the end."""
        n = self.handle.readinto(self.view[: self.block_bytes])
        if n < self.block_bytes:  # end of file
            if n and self.buf[n - 1] != 0x0A:
                self.buf[n] = 0x0A
                n += 1
            return self.buf, n
        cut = self.buf.rfind(b"\n", 0, n) + 1
        if cut == 0:
            return self._long_line(bytes(self.buf[:n]))
        if cut < n:
            self.handle.seek(cut - n, io.SEEK_CUR)
        return self.buf, cut

    def _long_line(self, start: bytes) -> tuple[bytes, int]:
        """A line longer than a block: keep up to MAX_LINE_BYTES of it and skip the rest."""
        data = start + self.handle.readline(max(0, MAX_LINE_BYTES - len(start)))
        while not data.endswith(b"\n"):
            rest = self.handle.readline(self.block_bytes)
            if not rest or rest.endswith(b"\n"):
                break
        data = data if data.endswith(b"\n") else data[:MAX_LINE_BYTES] + b"\n"
        return data, len(data)


@dataclass
class _Pending:
    needle: str
    line: int
    context: list[tuple[int, str]]
    missing: int


def scan_log(
    path: Path,
    needles: Sequence[str],
    *,
    context: int = 3,
    max_hits: int = 4,
    ignore: Sequence[str] = (),
    block_bytes: int = BLOCK_BYTES,
    root: Path | None = None,
) -> LogScan:
    """Return up to ``max_hits`` lines per needle (first occurrences), each with ``context`` lines.

    Lines containing any ``ignore`` text are never hits: they belong to steps that declare
    themselves non-fatal, and quoting them as the cause misleads (discourse's prepull compose error
    was once blamed that way).
    ``root``: the run dir the log must be a regular file inside (:mod:`bot.artifacts.safeopen`).
    """
    result = LogScan()
    scan = _Scan(
        wanted={n.encode("utf-8", "replace"): n for n in dict.fromkeys(needles) if n},
        ignored=[i.encode("utf-8", "replace") for i in ignore if i],
        context=context,
        result=result,
    )
    scan.left = dict.fromkeys(scan.wanted, max_hits)
    try:
        handle = open_confined(path, root)
    except Unsafe as exc:
        result.problem = exc.reason
        return result
    except OSError as exc:
        result.problem = f"cannot read {path.name} ({exc.strerror or exc})"
        return result
    stopped_early = False
    with handle:
        reader = _Reader(handle, block_bytes)
        while True:
            block, limit = reader.next()
            if not limit:
                break
            scan.block(block, limit)
            if not scan.left and not scan.pending:
                stopped_early = True  # every needle found as often as wanted
                break
    for p in scan.pending:
        result.hits.append(LogHit(p.needle, p.line, tuple(p.context)))
    result.lines = -1 if stopped_early else scan.base
    result.hits.sort(key=lambda h: (h.line, h.needle))
    return result


def scan_run_log(
    run_dir: Path,
    log_name: str,
    needles: Sequence[str],
    *,
    context: int = 3,
    max_hits: int = 4,
    ignore: Sequence[str] = (),
) -> LogScan:
    """:func:`scan_log` of a run's log (``ccci.log_name``), which must be a regular file inside the run."""
    return scan_log(run_dir / log_name, needles, context=context, max_hits=max_hits, ignore=ignore, root=run_dir)


@dataclass
class _Scan:
    """The state carried from block to block: lines so far, needles left, context owed."""

    wanted: dict[bytes, str]
    ignored: list[bytes]
    context: int
    result: LogScan
    left: dict[bytes, int] = field(default_factory=dict)
    base: int = 0  # lines before the current block
    tail: deque[tuple[int, str]] = field(default_factory=deque)
    pending: list[_Pending] = field(default_factory=list)

    def block(self, block: bytes | bytearray, limit: int) -> None:
        """Scan ``block[:limit]`` (whole lines, ending in ``\\n``)."""
        if self.pending:
            self._complete_pending(block, limit)
        for needle in [n for n in self.left if self.left[n] > 0]:
            pos = block.find(needle, 0, limit)
            while pos != -1 and self.left[needle] > 0:
                start = block.rfind(b"\n", 0, pos) + 1
                end = block.find(b"\n", pos, limit)
                line_raw = bytes(block[start:end])
                if not any(i in line_raw for i in self.ignored):
                    self._hit(block, limit, self.wanted[needle], start, end, line_raw)
                    self.left[needle] -= 1
                pos = block.find(needle, end + 1, limit)
            if self.left[needle] <= 0:
                del self.left[needle]
        count = _newlines(block, limit)
        if self.context:
            self._remember_tail(block, limit, self.base + count)
        self.base += count

    def _hit(self, block: bytes | bytearray, limit: int, needle: str, start: int, end: int, raw: bytes) -> None:
        lineno = self.base + block.count(b"\n", 0, start) + 1
        before = self._lines_before(block, start, lineno)
        after, missing = _lines_after(block, end + 1, limit, lineno, self.context)
        ctx = [*before, (lineno, clean(raw)), *after]
        if missing:
            self.pending.append(_Pending(needle, lineno, ctx, missing))
        else:
            self.result.hits.append(LogHit(needle, lineno, tuple(ctx)))

    def _lines_before(self, block: bytes | bytearray, start: int, lineno: int) -> list[tuple[int, str]]:
        out: list[tuple[int, str]] = []
        end = start - 1  # the '\n' ending the previous line
        n = lineno - 1
        while len(out) < self.context and end >= 0 and n > self.base:
            begin = block.rfind(b"\n", 0, end) + 1
            out.append((n, clean(bytes(block[begin:end]))))
            end = begin - 1
            n -= 1
        out.reverse()
        if len(out) < self.context:
            first = out[0][0] if out else lineno
            from_tail = [item for item in self.tail if item[0] < first]
            out = from_tail[len(from_tail) - (self.context - len(out)) :] + out if from_tail else out
        return out

    def _complete_pending(self, block: bytes | bytearray, limit: int) -> None:
        for p in list(self.pending):
            more, missing = _lines_after(block, 0, limit, self.base, p.missing)
            p.context.extend(more)
            p.missing = missing
            if not missing:
                self.result.hits.append(LogHit(p.needle, p.line, tuple(p.context)))
                self.pending.remove(p)

    def _remember_tail(self, block: bytes | bytearray, limit: int, last_line: int) -> None:
        end = limit - 1
        found: list[tuple[int, str]] = []
        n = last_line
        while len(found) < self.context and end >= 0:
            begin = block.rfind(b"\n", 0, end) + 1
            found.append((n, clean(bytes(block[begin:end]))))
            end = begin - 1
            n -= 1
        self.tail.extend(reversed(found))
        while len(self.tail) > self.context:
            self.tail.popleft()


def _newlines(block: bytes | bytearray, limit: int) -> int:
    """How many ``\n`` are in ``block[:limit]``: the price of line numbers, paid on every block.

    ``count`` of one byte is a plain C loop in CPython 3.11 (about 3 GiB/s of CPU here), while
    ``replace(b"\n", b"")`` finds them with memchr and copies the rest (about 6 GiB/s). The reader's
    limit is nearly always close to the end of its buffer, so the whole buffer is counted that way
    and the short tail past the limit (part of a line) subtracted."""
    tail = len(block) - limit
    if tail > len(block) // 4:
        return block.count(b"\n", 0, limit)
    return len(block) - len(block.replace(b"\n", b"")) - (block.count(b"\n", limit) if tail else 0)


def _lines_after(
    block: bytes | bytearray, start: int, limit: int, lineno: int, context: int
) -> tuple[list[tuple[int, str]], int]:
    out: list[tuple[int, str]] = []
    pos = start
    while len(out) < context and pos < limit:
        end = block.find(b"\n", pos, limit)
        out.append((lineno + len(out) + 1, clean(bytes(block[pos:end]))))
        pos = end + 1
    return out, context - len(out)
