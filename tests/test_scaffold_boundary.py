"""The bot's runtime never loads the scaffolding (sample world, local services, scripted operator)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCAFFOLD = "bot.scaffold"
# `ccci-bot demo` is the one runtime entry that loads the scaffolding, inside the command, when asked.
ALLOWED = {"bot/cli.py"}


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):  # function-level imports count too
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def runtime_files() -> list[Path]:
    files = sorted((ROOT / "bot").rglob("*.py")) + sorted((ROOT / "commands").rglob("*.py"))
    return [f for f in files if "scaffold" not in f.relative_to(ROOT).parts]


def test_no_runtime_module_imports_the_scaffolding() -> None:
    offenders = []
    for path in runtime_files():
        rel = path.relative_to(ROOT).as_posix()
        for line, module in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if (module == SCAFFOLD or module.startswith(SCAFFOLD + ".")) and rel not in ALLOWED:
                offenders.append(f"{rel}:{line} imports {module}")
    assert offenders == []


def test_the_cli_loads_the_scaffolding_only_inside_a_function() -> None:
    tree = ast.parse((ROOT / "bot" / "cli.py").read_text(encoding="utf-8"))
    top_level = [
        node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
    ]
    assert not [m for m in top_level if m and m.startswith(SCAFFOLD)]
    assert runtime_files(), "found no runtime modules to check"
