"""cc-ci's canonical records: ``<warm_dir>/<recipe>/canonical.json``."""

from __future__ import annotations

import json
from pathlib import Path

from bot.artifacts.timefmt import parse_time
from bot.model import Canonical


def read_canonicals(warm_dir: Path, name: str) -> tuple[list[Canonical], list[str]]:
    """All readable canonical records, and a problem line for each unreadable one."""
    found: list[Canonical] = []
    problems: list[str] = []
    try:
        recipe_dirs = sorted(p for p in warm_dir.iterdir() if p.is_dir())
    except OSError:
        return found, problems
    for recipe_dir in recipe_dirs:
        path = recipe_dir / name
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
            if not isinstance(data, dict) or not data.get("version"):
                raise ValueError("expected an object with a version")
        except (OSError, ValueError) as exc:
            problems.append(f"{path}: unreadable canonical record ({exc})")
            continue
        found.append(
            Canonical(
                recipe=str(data.get("recipe") or recipe_dir.name),
                version=str(data["version"]),
                commit=str(data["commit"]) if data.get("commit") else None,
                status=str(data["status"]) if data.get("status") else None,
                ts=parse_time(data.get("ts")),
            )
        )
    return found, problems
