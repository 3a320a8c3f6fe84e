"""All commands by name, in help order: the one list chat, CLI and help are built from."""

from __future__ import annotations

from commands import Command, cancel, help, history, ingest, learn, reclassify, rerun, status, summary, why

_MODULES = (help, why, summary, history, status, rerun, cancel, ingest, reclassify, learn)


def registry() -> dict[str, Command]:
    return {m.COMMAND.name: m.COMMAND for m in _MODULES}
