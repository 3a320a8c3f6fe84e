"""Where a runner log stops: which tier was running when the runner was cut off, and its exit code.

Only the tail is read (a runner killed at its deadline leaves a log of any size). A tier is known to
be running from the line that starts its pytest call — cc-ci names each tier's JUnit file
``<tier>__<source>__<file>.xml`` and passes it as ``--junitxml`` — or a ``===== tier <t> (<source>)
=====`` banner; the tier is over when a later line reports its result. A log that ends after that
tier's start and before its result ends inside it. The log is the recipe's: its patterns are RE2
(:mod:`bot.linear_regex`), linear in a line however it is shaped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from bot.artifacts.safeopen import Unsafe, open_in_run
from bot.linear_regex import linear
from bot.model.records import TIERS

TAIL_BYTES = 256 * 1024
_TIERS = "|".join(TIERS)
_START = linear(
    rf"--junitxml[= ]\S*?(?P<tier>{_TIERS})__(?P<source>[\w.-]+?)__\S+\.xml"
    rf"|=====\s*tier (?P<t2>{_TIERS}) \((?P<s2>[\w.-]+)\)"
)
_END = linear(rf"\btier (?P<tier>{_TIERS})\b.*?: (?:pass|fail|error|skip|unver)\b|cc-ci run finished")
_EXIT = linear(r"(?i)\b(?:rc|exit(?:ed)?(?: with)?(?: code| status)?)[=: ]+(?P<code>\d{1,3})\b")
_SIGNALS = {"Terminated": 143, "Killed": 137}


@dataclass(frozen=True)
class LogTail:
    """The tier a log ends inside (None when it ends between tiers), the last line's number and text."""

    tier: str | None
    source: str | None
    exit_code: int | None
    last_line: int
    last_text: str


def read_tail(run_dir: Path, log_name: str, tail_bytes: int = TAIL_BYTES) -> LogTail | None:
    """Read the end of a run's log; None when it cannot be read or is not a regular file inside the run."""
    try:
        with open_in_run(run_dir, log_name) as fh:
            size = fh.seek(0, os.SEEK_END)
            start = max(0, size - tail_bytes)
            fh.seek(start)
            data = fh.read()
            fh.seek(0)
            before = _count_lines(fh, start)
    except (OSError, Unsafe):
        return None
    text = data.decode("utf-8", "replace")
    lines = text.splitlines()
    if start > 0 and lines:  # the first line is a fragment
        before += 1
        lines = lines[1:]
    if not lines:
        return LogTail(None, None, None, before, "")
    tier = source = None
    for line in lines:
        # Each pattern needs a literal: looking for it first spares most lines a call into RE2 (~8 µs each).
        start_m = _START.search(line) if "--junitxml" in line or "=====" in line else None
        if start_m:
            tier = start_m["tier"] or start_m["t2"]
            source = start_m["source"] or start_m["s2"]
            continue
        end_m = _END.search(line) if "tier " in line or "cc-ci run finished" in line else None
        if end_m and (end_m["tier"] in (None, tier)):
            tier = source = None
    code = None
    for line in reversed(lines[-5:]):
        if (m := _EXIT.search(line)) is not None:
            code = int(m["code"])
            break
        if (sig := next((v for k, v in _SIGNALS.items() if line.strip().endswith(k)), None)) is not None:
            code = sig
            break
    return LogTail(tier, source, code, before + len(lines), lines[-1])


def _count_lines(fh: BinaryIO, upto: int) -> int:
    """Newlines before byte ``upto`` (counted in blocks: the head of a huge log is never held whole)."""
    count = 0
    remaining = upto
    while remaining > 0:
        block = fh.read(min(remaining, 1 << 20))
        if not block:
            break
        count += block.count(b"\n")
        remaining -= len(block)
    return count
