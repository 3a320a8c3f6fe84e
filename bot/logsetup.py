"""Log lines that fit where they go: a terminal, journald, or a log shipper.

Under systemd (``JOURNAL_STREAM`` names our stderr) the journal adds the time and reads a ``<N>``
syslog priority prefix, so lines carry no timestamp of their own and ``journalctl -p warning``
filters them. ``logging.format: json`` writes one JSON object a line for shippers that parse it.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import TextIO


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


LEVELS = ("debug", "info", "warning", "error", "critical")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def syslog_priority(levelno: int) -> int:
    """sd-daemon(3) prefixes: <7> debug, <6> info, <4> warning, <3> error, <2> critical."""
    if levelno >= logging.CRITICAL:
        return 2
    if levelno >= logging.ERROR:
        return 3
    if levelno >= logging.WARNING:
        return 4
    if levelno >= logging.INFO:
        return 6
    return 7


class JournalFormatter(logging.Formatter):
    """``<N>logger: message``; every line of a traceback gets the prefix too, so none loses its priority."""

    def format(self, record: logging.LogRecord) -> str:
        text = f"{record.name}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        prefix = f"<{syslog_priority(record.levelno)}>"
        return "\n".join(prefix + line for line in text.splitlines())


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (UTC, ISO 8601), level, logger, message, and exc when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def under_journald(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """True when ``stream`` is the journal stream systemd connected (``JOURNAL_STREAM=dev:inode``)."""
    value = environ.get("JOURNAL_STREAM", "")
    dev, _, inode = value.partition(":")
    if not dev.isdigit() or not inode.isdigit():
        return False
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return st.st_dev == int(dev) and st.st_ino == int(inode)


def formatter_for(fmt: LogFormat, stream: TextIO, environ: Mapping[str, str]) -> logging.Formatter:
    if fmt is LogFormat.JSON:
        return JsonFormatter()
    if under_journald(stream, environ):
        return JournalFormatter()
    return logging.Formatter(TEXT_FORMAT)


def setup_logging(
    level: int, fmt: LogFormat = LogFormat.TEXT, stream: TextIO | None = None, environ: Mapping[str, str] | None = None
) -> None:
    """Replace the root logger's handlers with one writing to stderr in the right format."""
    out = sys.stderr if stream is None else stream
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter_for(fmt, out, os.environ if environ is None else environ))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
