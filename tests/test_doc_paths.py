"""Every repository path and every ``bot.…`` module name that README.md and docs/*.md mention exists,
so the docs cannot drift from the tree when modules move."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TOP = ("bot", "commands", "demo", "scripts", "tests", "benchmarks", "deploy", "docs")
# A path starts a word (so /opt/ccci-bot/bin is not bot/bin) and runs to the first character a path here
# never holds; trailing punctuation of the sentence is dropped.
PATH = re.compile(r"(?<![\w./-])((?:" + "|".join(TOP) + r")/[\w./<>*{}-]*)")
MODULE = re.compile(r"(?<![\w./-])((?:bot|commands|demo)\.[A-Za-z_][\w.]*\w)")


def mentioned(pattern: re.Pattern[str]) -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        for match in pattern.finditer(doc.read_text(encoding="utf-8")):
            found.append((doc.name, match.group(1).rstrip(".")))
    return found


def missing_path(path: str) -> bool:
    """A placeholder (``<category>``, a glob) counts when its folder exists; ``bot/runtime/bot`` (a
    module named in the diagram) when its .py does."""
    if any(ch in path for ch in "<>*{}"):
        path = path[: min(path.find(ch) for ch in "<>*{}" if ch in path)].rsplit("/", 1)[0]
    target = ROOT / path
    return not (target.exists() or target.with_name(target.name + ".py").exists())


def missing_module(name: str) -> bool:
    """The longest importable prefix, then attributes: ``bot.store.status_run.target_run``."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return True
            obj = getattr(obj, attr)
        return False
    return True


def test_every_path_the_docs_mention_exists() -> None:
    paths = mentioned(PATH)
    assert len(paths) > 50, "found too few paths: the pattern no longer matches the docs"
    assert [f"{doc}: {path}" for doc, path in paths if missing_path(path)] == []


def test_every_module_the_docs_name_exists() -> None:
    names = mentioned(MODULE)
    assert names, "found no module names: the pattern no longer matches the docs"
    assert [f"{doc}: {name}" for doc, name in names if missing_module(name)] == []


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("see `bot/artifacts/junit.py`.", []),
        ("see `bot/evidence.py` and bot/kinds.py,", ["bot/evidence.py", "bot/kinds.py"]),
        ("the diagram's bot/runtime/bot box and bot/kb/signatures/<category>.yaml", []),
        ("a venv in /opt/ccci-bot/bin/pip", []),
    ],
)
def test_the_path_check_finds_what_moved(text: str, missing: list[str]) -> None:
    found = [m.group(1).rstrip(".,") for m in PATH.finditer(text)]
    assert [p for p in found if missing_path(p)] == missing


def test_the_module_check_finds_what_moved() -> None:
    assert not missing_module("bot.store.status_run.target_run")
    assert not missing_module("bot.config")
    assert missing_module("bot.evidence.target_run")
    assert missing_module("bot.store.status_run.no_such_rule")
