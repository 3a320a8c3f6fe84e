"""Finding the lines that name a failure in a runner log of any size.

The log is read in fixed-size blocks; a block with none of the needles costs two C-level scans
(``bytes.find`` and ``bytes.count``), so a multi-GiB log streams at close to disk speed and memory
stays at a couple of blocks. Lines are numbered from 1 so links can point at ``#L<n>``.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

BLOCK_BYTES = 8 * 1024 * 1024
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
    bytes_read: int = 0
    problem: str | None = None


def clean(raw: bytes) -> str:
    """Bytes of a log line to printable text: invalid UTF-8 replaced, control characters dropped."""
    text = raw.decode("utf-8", "replace").rstrip("\r")
    text = _RULE.sub(lambda m: m[1] * 5, _CONTROL.sub("", text))
    return text if len(text) <= MAX_LINE_CHARS else text[: MAX_LINE_CHARS - 1] + "…"


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
) -> LogScan:
    """Return up to ``max_hits`` lines per needle (first occurrences), each with ``context`` lines.

    Lines containing any ``ignore`` text are never hits: they belong to steps that declare
    themselves non-fatal, and quoting them as the cause misleads (the journal's discourse case).
    """
    result = LogScan()
    wanted = {n.encode("utf-8", "replace"): n for n in dict.fromkeys(needles) if n}
    left = dict.fromkeys(wanted, max_hits)
    ignored = [i.encode("utf-8", "replace") for i in ignore if i]
    tail: deque[tuple[int, str]] = deque(maxlen=context)
    pending: list[_Pending] = []
    base = 0  # lines before the current block
    carry = b""
    try:
        handle = path.open("rb")
    except OSError as exc:
        result.problem = f"cannot read {path.name} ({exc.strerror or exc})"
        return result
    with handle:
        while True:
            data = handle.read(block_bytes)
            result.bytes_read += len(data)
            buf = carry + data
            if not data:
                block, carry = (buf + b"\n" if buf else b""), b""
            else:
                cut = buf.rfind(b"\n") + 1
                if cut == 0 and len(buf) > MAX_LINE_BYTES:
                    cut = len(buf)
                    buf += b"\n"
                    cut += 1
                block, carry = buf[:cut], buf[cut:]
            if block:
                base = _scan_block(block, base, wanted, left, ignored, context, tail, pending, result)
            if not data:
                break
            if not left and not pending:
                base += carry.count(b"\n")
                result.lines = -1  # not counted to the end: stopped early
                break
    for p in pending:
        result.hits.append(LogHit(p.needle, p.line, tuple(p.context)))
    if result.lines != -1:
        result.lines = base
    result.hits.sort(key=lambda h: (h.line, h.needle))
    return result


def _scan_block(
    block: bytes,
    base: int,
    wanted: dict[bytes, str],
    left: dict[bytes, int],
    ignored: list[bytes],
    context: int,
    tail: deque[tuple[int, str]],
    pending: list[_Pending],
    result: LogScan,
) -> int:
    """Scan one block of whole lines (ending in ``\\n``); return the line count after it."""
    if pending:
        _complete_pending(block, base, pending, result)
    for needle in [n for n in left if left[n] > 0]:
        pos = block.find(needle)
        while pos != -1 and left[needle] > 0:
            start = block.rfind(b"\n", 0, pos) + 1
            end = block.find(b"\n", pos)
            line_raw = block[start:end]
            if not any(i in line_raw for i in ignored):
                lineno = base + block.count(b"\n", 0, start) + 1
                before = _lines_before(block, start, base, lineno, context, tail)
                after, missing = _lines_after(block, end + 1, lineno, context)
                ctx = [*before, (lineno, clean(line_raw)), *after]
                if missing:
                    pending.append(_Pending(wanted[needle], lineno, ctx, missing))
                else:
                    result.hits.append(LogHit(wanted[needle], lineno, tuple(ctx)))
                left[needle] -= 1
            pos = block.find(needle, end + 1)
        if left[needle] <= 0:
            del left[needle]
    count = block.count(b"\n")
    if context:
        _remember_tail(block, base + count, context, tail)
    return base + count


def _lines_before(
    block: bytes, start: int, base: int, lineno: int, context: int, tail: deque[tuple[int, str]]
) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    end = start - 1  # the '\n' ending the previous line
    n = lineno - 1
    while len(out) < context and end >= 0 and n > base:
        begin = block.rfind(b"\n", 0, end) + 1
        out.append((n, clean(block[begin:end])))
        end = begin - 1
        n -= 1
    out.reverse()
    if len(out) < context:
        from_tail = [item for item in tail if item[0] < (out[0][0] if out else lineno)]
        out = from_tail[-(context - len(out)) :] + out if from_tail else out
    return out


def _lines_after(block: bytes, start: int, lineno: int, context: int) -> tuple[list[tuple[int, str]], int]:
    out: list[tuple[int, str]] = []
    pos = start
    while len(out) < context and pos < len(block):
        end = block.find(b"\n", pos)
        out.append((lineno + len(out) + 1, clean(block[pos:end])))
        pos = end + 1
    return out, context - len(out)


def _complete_pending(block: bytes, base: int, pending: list[_Pending], result: LogScan) -> None:
    for p in list(pending):
        more, missing = _lines_after(block, 0, base, p.missing)
        p.context.extend(more)
        p.missing = missing
        if not missing:
            result.hits.append(LogHit(p.needle, p.line, tuple(p.context)))
            pending.remove(p)


def _remember_tail(block: bytes, last_line: int, context: int, tail: deque[tuple[int, str]]) -> None:
    end = len(block) - 1
    found: list[tuple[int, str]] = []
    n = last_line
    while len(found) < context and end >= 0:
        begin = block.rfind(b"\n", 0, end) + 1
        found.append((n, clean(block[begin:end])))
        end = begin - 1
        n -= 1
    for item in reversed(found):
        tail.append(item)
