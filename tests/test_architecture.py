"""The boundary claims of docs/architecture.md, checked on the code itself.

* No import cycles, at module level (function-level imports count: grimp reads every import
  statement, wherever it stands) and between the siblings of every package (``bot.config`` must
  not need ``bot.reports`` if ``bot.reports`` needs ``bot.config``).
* The bottom layers stay at the bottom: the error family imports nothing of the bot, the domain model
  nothing else but the error family, the config only its own modules, the error family and the log format.
* The outbox does not import the web package. (That nothing in bot/ imports the demo package is
  tests/test_demo_boundary.py.)
* Only store modules speak SQL: ``bot/store/`` (the feature stores live there too). Nothing outside
  it touches the store's core (``bot.store.database``: ``_query``, ``_tuples``, ``_transaction``, a
  repository's ``_db``): the rest of the code, tests and benchmarks included, goes through the
  repositories' typed methods (one test module sets rows up beneath them on a connection of its own).
* Only ``bot/artifacts/`` spells cc-ci's file names (results.json, run.log, junit/, canonical.json):
  everything else takes them from the config through :mod:`bot.artifacts.layout`.
* docs/architecture.md's package table lists every package, in import order, with what it may import;
  no package imports one its row does not name.
"""

from __future__ import annotations

import ast
import itertools
import re
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import grimp
import pytest

from bot.config import CcciConfig

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "commands")

# Module-level edges known to close a cycle, with the work that removes them. Each must still exist
# (the test fails once it is gone, so this list only ever shrinks).
PENDING: dict[tuple[str, str], str] = {}

# Only these speak SQL.
STORE_MODULES = re.compile(r"^bot\.store(\..+)?$")
SQL = re.compile(
    r"\b(SELECT\b[\s\S]*\bFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|"
    r"CREATE\s+(TABLE|INDEX|UNIQUE)|DROP\s+(TABLE|INDEX)|ALTER\s+TABLE|PRAGMA\s+\w+|WITH\s+\w+\s+AS\s*\()"
)
SQL_CALLS = frozenset(
    {"execute", "executemany", "executescript", "query", "transaction", "_query", "_tuples", "_transaction"}
)
# The store's core: its module, and the names only the repositories beside it may use.
STORE_CORE = "bot.store.database"
CORE_PRIVATE = frozenset({"_db", "_query", "_tuples", "_transaction"})
# Code outside bot/ and commands/ held to the core's privacy too, and the one module allowed beneath it.
ALSO_CHECKED = ("demo", "scripts", "benchmarks", "tests")
BENEATH_THE_REPOSITORIES = {"tests.rawdb": "a full disk cannot be made here: refuse_writes sets query_only"}


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, cache_dir=None)


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    try:
        TopologicalSorter(edges).prepare()
    except CycleError as exc:
        return list(exc.args[1])
    return None


def _collapsed(graph: grimp.ImportGraph, unit_of: dict[str, str]) -> dict[str, set[str]]:
    """The import graph with each module replaced by its unit (modules without one are left out)."""
    edges: dict[str, set[str]] = {}
    for module, unit in unit_of.items():
        for imported in graph.find_modules_directly_imported_by(module):
            other = unit_of.get(imported)
            if other is not None and other != unit:
                edges.setdefault(unit, set()).add(other)
    return edges


def _explain(graph: grimp.ImportGraph, cycle: list[str], unit_of: dict[str, str]) -> str:
    lines = []
    for a, b in itertools.pairwise(cycle):
        # TopologicalSorter reports the cycle against the edge direction (b is a predecessor of a)
        shown = [
            f"{m} -> {i}"
            for m, u in unit_of.items()
            if u == b
            for i in graph.find_modules_directly_imported_by(m)
            if unit_of.get(i) == a
        ]
        lines.append(f"  {b} imports {a}: {', '.join(sorted(shown)[:3])}")
    return "\n".join(lines)


def test_no_module_imports_itself_back(graph: grimp.ImportGraph) -> None:
    """Module level: ``commands`` ↔ the rerun manager, ``render`` ↔ ``render.html`` and the like."""
    unit_of = {m: m for m in graph.modules if _within(m, PACKAGES)}
    edges = _collapsed(graph, unit_of)
    for importer, imported in PENDING:
        assert imported in edges.get(importer, set()), f"{importer} -> {imported} is gone: drop it from PENDING"
        edges[importer].discard(imported)
    cycle = _cycle(edges)
    assert cycle is None, "import cycle: " + " <- ".join(cycle) + "\n" + _explain(graph, cycle, unit_of)


def _packages(graph: grimp.ImportGraph) -> list[str]:
    return sorted(m for m in graph.modules if _within(m, PACKAGES) and graph.find_children(m))


@pytest.mark.parametrize("level", ["top", *PACKAGES])
def test_no_cycles_between_sibling_packages(graph: grimp.ImportGraph, level: str) -> None:
    """Package level: each package's children (with everything below them) import one way only.

    ``top`` treats ``commands`` as one more sibling of ``bot``'s children: the commands sit above the
    core (service, store, render) and below the front ends (chat, CLI, app).
    """
    parents = [None] if level == "top" else [p for p in _packages(graph) if _within(p, (level,))]
    for parent in parents:
        unit_of: dict[str, str] = {}
        for module in graph.modules:
            if parent is None:
                if _within(module, ("commands",)):
                    unit_of[module] = "commands"
                elif module.startswith("bot."):
                    unit_of[module] = ".".join(module.split(".")[:2])
            elif module.startswith(parent + "."):
                unit_of[module] = ".".join(module.split(".")[: parent.count(".") + 2])
        cycle = _cycle(_collapsed(graph, unit_of))
        where = parent or "bot + commands"
        assert cycle is None, (
            f"cycle among {where}'s children: " + " <- ".join(cycle) + "\n" + _explain(graph, cycle, unit_of)
        )


def test_the_test_finds_a_cycle() -> None:
    """The detector itself: a planted cycle is reported with its edges."""
    g = grimp.ImportGraph()
    for m in ("p", "p.a", "p.b", "p.c"):
        g.add_module(m)
    g.add_import(importer="p.a", imported="p.b")
    g.add_import(importer="p.b", imported="p.c")
    g.add_import(importer="p.c", imported="p.a")
    unit_of = {m: m for m in ("p.a", "p.b", "p.c")}
    cycle = _cycle(_collapsed(g, unit_of))
    assert cycle is not None
    assert set(cycle) == {"p.a", "p.b", "p.c"}
    assert "p.c -> p.a" in _explain(g, cycle, unit_of)


# What each bottom-layer package may import of the bot (itself included): the error family is the floor.
BOTTOM_LAYERS = {
    "bot.errors": ("bot.errors",),
    "bot.model": ("bot.model", "bot.errors"),
    "bot.schedule": ("bot.schedule", "bot.errors"),
    "bot.config": ("bot.config", "bot.logsetup", "bot.errors", "bot.schedule"),
}


@pytest.mark.parametrize("package", sorted(BOTTOM_LAYERS))
def test_the_bottom_layers_import_nothing_above_them(graph: grimp.ImportGraph, package: str) -> None:
    allowed = BOTTOM_LAYERS[package]
    above = sorted(
        f"{module} -> {imported}"
        for module in graph.modules
        if _within(module, (package,))
        for imported in graph.find_modules_directly_imported_by(module)
        if _within(imported, PACKAGES) and not _within(imported, allowed)
    )
    assert above == []


def test_outbox_does_not_import_the_web_package(graph: grimp.ImportGraph) -> None:
    chain = graph.find_shortest_chain(importer="bot.chat.outbox", imported="bot.web", as_packages=True)
    assert chain is None, f"bot.chat.outbox reaches bot.web: {' -> '.join(chain or ())}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources(packages: tuple[str, ...] = PACKAGES) -> list[tuple[str, Path]]:
    found = []
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            found.append((_module_name(path), path))
    return found


def sql_outside_the_store(name: str, source: str) -> list[str]:
    """Where a module that is not a store module speaks SQL: a SQL string, a DB call, sqlite3."""
    if STORE_MODULES.search(name):
        return []
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
            found.append(f"{name}:{node.lineno}: SQL text {node.value.strip()[:60]!r}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SQL_CALLS:
            found.append(f"{name}:{node.lineno}: .{node.func.attr}(…) call")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if "sqlite3" in modules:
                found.append(f"{name}:{node.lineno}: imports sqlite3")
    return found


def test_only_store_modules_speak_sql() -> None:
    found = [hit for name, path in _sources() for hit in sql_outside_the_store(name, path.read_text())]
    assert found == []


def test_the_sql_check_finds_sql() -> None:
    """The check itself: each kind of SQL outside a store module is reported; inside one it is not."""
    source = (
        "import sqlite3\n"
        "rows = store.query('SELECT run_id FROM runs')\n"
        "with store.transaction() as c:\n"
        "    c.execute(SQL)\n"
        "Q = '''INSERT OR REPLACE INTO meta (key) VALUES (?)'''\n"
        "T = 'Select a recipe from the list'\n"
    )
    found = sorted(
        hit.split(": ", 1)[0] + " " + hit.split(": ", 1)[1].split(" ")[0]
        for hit in sql_outside_the_store("bot.web.metrics", source)
    )
    assert found == [
        "bot.web.metrics:1 imports",
        "bot.web.metrics:2 .query(…)",
        "bot.web.metrics:2 SQL",
        "bot.web.metrics:3 .transaction(…)",
        "bot.web.metrics:4 .execute(…)",
        "bot.web.metrics:5 SQL",
    ]
    assert sql_outside_the_store("bot.store.reruns", source) == []
    assert sql_outside_the_store("bot.store.database", source) == []
    assert sql_outside_the_store("bot.reruns.store", source) != []  # a feature's own store.py is outside


def core_touched_outside_the_store(name: str, source: str) -> list[str]:
    """Where a module outside bot/store/ imports the store's core or uses its private names."""
    if STORE_MODULES.search(name) or name in BENEATH_THE_REPOSITORIES:
        return []
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in CORE_PRIVATE:
            found.append(f"{name}:{node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if isinstance(node, ast.ImportFrom) and node.module == "bot.store":
                modules += [f"bot.store.{a.name}" for a in node.names]
            if STORE_CORE in modules:
                found.append(f"{name}:{node.lineno}: imports {STORE_CORE}")
    return found


def test_only_store_modules_touch_the_stores_core() -> None:
    """The repositories are the store's only door: nothing else reaches the connection they share."""
    sources = _sources((*PACKAGES, *ALSO_CHECKED))
    assert {name for name, _ in sources} >= set(BENEATH_THE_REPOSITORIES), "an exemption names no module"
    found = [hit for name, path in sources for hit in core_touched_outside_the_store(name, path.read_text())]
    assert found == []


def test_the_core_check_finds_private_use() -> None:
    source = (
        "from bot.store.database import Database\n"
        "from bot.store import database\n"
        "rows = store._db._query('…')\n"
        "with runs._db._transaction() as c:\n"
        "    pass\n"
        "store.runs.last_runs('mumble', 3)\n"
    )
    found = sorted(
        hit.split(": ", 1)[0] + " " + hit.split(": ", 1)[1] for hit in core_touched_outside_the_store("tests.x", source)
    )
    assert found == [
        "tests.x:1 imports bot.store.database",
        "tests.x:2 imports bot.store.database",
        "tests.x:3 ._db",
        "tests.x:3 ._query",
        "tests.x:4 ._db",
        "tests.x:4 ._transaction",
    ]
    assert core_touched_outside_the_store("bot.store.runs", source) == []


# cc-ci's file names as the config declares their defaults. Only the readers (bot/artifacts/) and the
# declarations (bot/config/) may spell them; docstrings may name them, code may not.
DEFAULTS = CcciConfig()
FILE_NAMES = (DEFAULTS.results_name, DEFAULTS.log_name, DEFAULTS.canonical_name)
JUNIT_PATH = DEFAULTS.junit_dir + "/"
LAYOUT_OWNERS = ("bot.artifacts", "bot.config")
# Strings that start like a path into the JUnit dir and are not one, with why.
NOT_RUN_PATHS = {
    ("bot.web.pages", JUNIT_PATH): "the JUnit page's URL (/runs/<id>/junit/<file>), whatever the dir's name"
}


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def file_names_outside_artifacts(name: str, source: str) -> list[str]:
    """Where a module outside bot/artifacts/ and bot/config/ spells a cc-ci file name in code."""
    if _within(name, LAYOUT_OWNERS):
        return []
    tree = ast.parse(source)
    prose = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose:
            text = node.value
            spelled = [n for n in FILE_NAMES if n in text]
            if text.startswith(JUNIT_PATH) and (name, text) not in NOT_RUN_PATHS:
                spelled.append(JUNIT_PATH)
            found += [f"{name}:{node.lineno}: {n!r} in {text[:60]!r}" for n in spelled]
    return found


def test_only_the_artifacts_package_spells_cc_cis_file_names() -> None:
    """docs/architecture.md: bot/artifacts/ is the only code that knows cc-ci's file layout; the rest asks it, with the
    names the config gives (ccci.results_name, log_name, junit_dir, canonical_name)."""
    found = [hit for name, path in _sources() for hit in file_names_outside_artifacts(name, path.read_text())]
    assert found == []


def test_the_file_name_check_finds_them() -> None:
    source = (
        '"""Reads results.json and run.log (prose may name them)."""\n'
        "def f(run_dir):\n"
        '    """Also here: canonical.json."""\n'
        '    a = run_dir / "results.json"\n'
        '    b = f"no {x}, see run.log"\n'
        '    c = "junit/" + name\n'
        '    d = {"junit": 1, "kind": "canonical"}\n'
    )
    found = sorted(hit.split(": ", 1)[0] for hit in file_names_outside_artifacts("bot.web.routes", source))
    assert found == ["bot.web.routes:4", "bot.web.routes:5", "bot.web.routes:6"]
    assert file_names_outside_artifacts("bot.artifacts.rundir", source) == []
    assert file_names_outside_artifacts("bot.config.schema", source) == []
    assert len(file_names_outside_artifacts("bot.web.pages", source)) == 2  # its JUnit page URL is allowed


# --- docs/architecture.md's package table: what each package may import ----------------------------

ARCHITECTURE_DOC = ROOT / "docs" / "architecture.md"
ROW = re.compile(r"^\| `([\w/.]+)` \|.*\| ([^|]*) \|$", re.M)


def _unit(module: str) -> str:
    """A module's row in the table: ``bot.store.chat`` → ``bot.store``; ``commands.why`` → ``commands``."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "bot" else parts[0]


def documented_imports(text: str) -> dict[str, set[str]]:
    """Each row's package (``bot/store/`` → ``bot.store``, ``bot/service.py`` → ``bot.service``) and the
    packages its last column names in backticks (``config`` → ``bot.config``; ``commands``, ``demo`` and
    ``bot`` itself as they are), in the table's order."""
    rows: dict[str, set[str]] = {}
    for path, allowed in ROW.findall(text[text.index("## Packages") :]):
        unit = path.removesuffix("/").removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        names = re.findall(r"`([\w.]+)`", allowed)
        rows[unit] = {n if n in ("bot", "commands", "demo") else f"bot.{n}" for n in names}
    return rows


def actual_imports(graph: grimp.ImportGraph) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for module in graph.modules:
        if not _within(module, PACKAGES):
            continue
        unit = found.setdefault(_unit(module), set())
        unit.update(
            _unit(i)
            for i in graph.find_modules_directly_imported_by(module)
            if _within(i, PACKAGES) and _unit(i) != _unit(module)
        )
    return found


def test_the_package_table_lists_every_package_and_what_it_may_import(graph: grimp.ImportGraph) -> None:
    documented = documented_imports(ARCHITECTURE_DOC.read_text(encoding="utf-8"))
    actual = actual_imports(graph)
    assert documented.get("bot.model") == {"bot.errors"} and "bot.store" in documented, "the table no longer parses"
    assert sorted(set(actual) - set(documented)) == [], "packages docs/architecture.md's table does not list"
    beyond = {unit: sorted(actual[unit] - documented[unit]) for unit in actual if actual[unit] - documented[unit]}
    assert beyond == {}, "imports docs/architecture.md does not allow: add them to the row (on purpose) or drop them"
    order = [unit for unit in documented if unit in actual]  # the import rules cover bot/ and commands/
    late = {
        unit: sorted(i for i in documented[unit] if i in order and order.index(i) > order.index(unit)) for unit in order
    }
    assert {unit: names for unit, names in late.items() if names} == {}, "the table is in import order, lowest first"


def test_the_package_table_check_finds_an_unlisted_import() -> None:
    text = (
        "## Packages\n\n| package | owns | may import |\n|---|---|---|\n"
        "| `bot/model/` | types | nothing |\n| `bot/store/` | SQL | `model` |\n"
        "| `bot/service.py` | async | `store`, `model` |\n| `commands/` | commands | `bot` (the version), `service` |\n"
    )
    rows = documented_imports(text)
    assert rows == {
        "bot.model": set(),
        "bot.store": {"bot.model"},
        "bot.service": {"bot.store", "bot.model"},
        "commands": {"bot", "bot.service"},
    }
    assert _unit("bot.store.chat") == "bot.store" and _unit("bot") == "bot" and _unit("commands.why") == "commands"
