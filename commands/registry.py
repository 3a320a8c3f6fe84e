"""All commands by name, in help order: the one list chat, CLI and help are built from."""

from __future__ import annotations

from commands import (
    Command,
    calibration,
    cancel,
    help,
    history,
    ingest,
    known,
    learn,
    link,
    mute,
    reclassify,
    rerun,
    status,
    summary,
    unlink,
    unmute,
    verdict,
    why,
)

_MODULES = (
    help,
    why,
    summary,
    history,
    status,
    known,
    calibration,
    rerun,
    cancel,
    link,
    unlink,
    verdict,
    mute,
    unmute,
    learn,
    ingest,
    reclassify,
)


def registry() -> dict[str, Command]:
    return {m.COMMAND.name: m.COMMAND for m in _MODULES}
