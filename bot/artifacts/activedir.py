"""cc-ci's active dir: one entry per deploy in flight (``/run/cc-ci-active/<domain>``)."""

from __future__ import annotations

from pathlib import Path


def in_flight(active_dir: Path) -> list[str]:
    """The entries, sorted (dot files are not runs); a missing dir means nothing is in flight."""
    try:
        return sorted(e.name for e in active_dir.iterdir() if not e.name.startswith("."))
    except FileNotFoundError:
        return []
