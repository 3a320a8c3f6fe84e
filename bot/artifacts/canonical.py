"""cc-ci's canonical records: ``<warm_dir>/<recipe>/canonical.json``."""

from __future__ import annotations

import json
from pathlib import Path

from bot.artifacts.safeopen import Unsafe, read_bytes_in_run
from bot.artifacts.timefmt import parse_time
from bot.model.records import Canonical

MAX_BYTES = 1024 * 1024  # a canonical record is a few hundred bytes


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
        if not path.exists() and not path.is_symlink():
            continue
        try:
            # same rules as a run's files: a regular file inside its dir, and small
            data = json.loads(read_bytes_in_run(recipe_dir, name, MAX_BYTES).decode("utf-8", errors="replace"))
            if not isinstance(data, dict) or not data.get("version"):
                raise ValueError("expected an object with a version")
        except Unsafe as exc:
            problems.append(f"{path}: {exc.reason}")
            continue
        except (OSError, ValueError, RecursionError) as exc:
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
