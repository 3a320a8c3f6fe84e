"""The bot's runtime never loads the demo package (sample world, local services, scripted operator) nor
the tools only the `demo` extra brings: pytest, Synapse, junitparser, defusedxml."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Top-level packages nothing under bot/ or commands/ may import.
DEMO_ONLY = ("demo", "pytest", "_pytest", "synapse", "junitparser", "defusedxml")
# `ccci-bot demo` is the one runtime entry that loads the demo, inside the command, when asked.
CLI = "bot/cli/main.py"
ALLOWED = {(CLI, "demo.demo")}


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):  # function-level imports count too
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def demo_only(module: str) -> bool:
    return module.split(".")[0] in DEMO_ONLY


def runtime_files() -> list[Path]:
    return sorted((ROOT / "bot").rglob("*.py")) + sorted((ROOT / "commands").rglob("*.py"))


def test_no_runtime_module_imports_the_demo_or_its_tools() -> None:
    offenders = []
    for path in runtime_files():
        rel = path.relative_to(ROOT).as_posix()
        for line, module in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if demo_only(module) and (rel, module) not in ALLOWED:
                offenders.append(f"{rel}:{line} imports {module}")
    assert offenders == []


def test_the_check_knows_the_demo_only_packages() -> None:
    """The check itself: the demo, pytest and Synapse count, a bot module or a look-alike does not."""
    tree = ast.parse("import pytest\nfrom synapse.app import homeserver\nfrom demo.sample import generate\n")
    assert [m for _, m in _imports(tree) if demo_only(m)] == ["pytest", "synapse.app", "demo.sample"]
    assert not demo_only("bot.render.reports") and not demo_only("demos") and not demo_only("pytest_xdist")


def test_the_cli_loads_the_demo_only_inside_a_function() -> None:
    tree = ast.parse((ROOT / CLI).read_text(encoding="utf-8"))
    top_level = [
        node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
    ]
    assert not [m for m in top_level if m and demo_only(m)]
    assert runtime_files(), "found no runtime modules to check"
