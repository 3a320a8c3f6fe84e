"""Every repository path and every ``bot.…`` module name that README.md, docs/*.md and benchmarks/README.md
mention exists, and every relative link between them leads to a file (and a heading) that is there, so the
docs cannot drift from the tree when modules or sections move."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "benchmarks" / "README.md"]
TOP = ("bot", "commands", "demo", "scripts", "tests", "benchmarks", "deploy", "docs")
# A path starts a word (so /opt/ccci-bot/bin is not bot/bin) and runs to the first character a path here
# never holds; trailing punctuation of the sentence is dropped.
PATH = re.compile(r"(?<![\w./-])((?:" + "|".join(TOP) + r")/[\w./<>*{}-]*)")
# ... and a module name is not a page: docs/ links to commands.md.
MODULE = re.compile(r"(?<![\w./-])((?:bot|commands|demo)\.(?!md\b)[A-Za-z_][\w.]*\w)")
# A markdown link's target: [text](target), outside code spans (none of the docs puts a link in one).
LINK = re.compile(r"\]\(([^()\s]+)\)")


def mentioned(pattern: re.Pattern[str]) -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        for match in pattern.finditer(doc.read_text(encoding="utf-8")):
            found.append((str(doc.relative_to(ROOT)), match.group(1).rstrip(".")))
    return found


def anchors(doc: Path) -> set[str]:
    """The ids GitHub gives a page's headings: lower case, punctuation but ``-`` and ``_`` dropped, spaces
    to ``-`` (``### `why --json``` is ``#why---json``)."""
    prose = re.sub(r"^```.*?^```", "", doc.read_text(encoding="utf-8"), flags=re.S | re.M)  # not a shell comment
    headings = re.findall(r"^#{1,6} (.+)$", prose, re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def broken_link(doc: Path, target: str) -> bool:
    """A relative link from ``doc``: its file must exist, and a ``#fragment`` into a markdown page must
    name one of that page's headings."""
    if re.match(r"[a-z]+:", target):  # https:, mailto: — not ours to check
        return False
    file, _, fragment = target.partition("#")
    dest = (doc.parent / file).resolve() if file else doc
    if not dest.exists():
        return True
    return bool(fragment) and dest.suffix == ".md" and fragment not in anchors(dest)


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


def test_every_relative_link_between_the_docs_resolves() -> None:
    links = [(doc, target) for doc in DOCS for target in LINK.findall(doc.read_text(encoding="utf-8"))]
    assert len(links) > 20, "found too few links: the pattern no longer matches the docs"
    assert [f"{doc.relative_to(ROOT)}: {target}" for doc, target in links if broken_link(doc, target)] == []


def test_the_link_check_finds_what_moved(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "commands.md"
    page.write_text("# Commands\n\n## `why --json`\n\n### Reports, unasked\n")
    readme = tmp_path / "README.md"
    readme.write_text("# Top\n")
    assert not broken_link(readme, "docs/commands.md#why---json")
    assert not broken_link(page, "#reports-unasked")
    assert not broken_link(page, "../README.md")
    assert not broken_link(page, "https://example.org/nowhere")
    assert broken_link(readme, "commands.md")  # relative to the page that links, not the root
    assert broken_link(readme, "docs/commands.md#end-to-end-encryption")
    assert broken_link(page, "#backups-and-restore")


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
    assert [m.group(1) for m in MODULE.finditer("see [it](commands.md#x), commands.why and bot.md_files")] == [
        "commands.why",
        "bot.md_files",
    ]
