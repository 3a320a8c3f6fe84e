"""Capture real assertion messages from several pytest versions and from unittest, as JUnit fixtures.

Run it again with ``python scripts/capture_assertion_shapes.py`` (needs the PyPI mirror; a few minutes).
It makes one venv per tool under a temporary directory, installs ``pytest==7.*``, ``pytest==8.*`` and
``pytest==9.*`` (each the newest release of that major the mirror has) into this Python, and
unittest-xml-reporting (plain unittest's JUnit writer) into each Python it finds of
``UNITTEST_PYTHONS``. Each runs the same small suites: :data:`PYTEST_SUITE` (plain ``assert``, as
cc-ci's overlay tests are written) and :data:`UNITTEST_SUITE` (``unittest.TestCase``, which pytest runs
too). pytest runs four ways, because its message changes with them: ``default`` (no flag, outside CI:
long explanations cut), ``v`` (``-v``), ``vv`` (``-vv``: whole diffs) and ``ci`` (no flag with ``CI=true``,
as a CI runner sets it: nothing cut). It writes::

    tests/fixtures/assertion-shapes/pytest-<major>/<mode>.xml   the JUnit file pytest wrote
    tests/fixtures/assertion-shapes/unittest/python-<x.y>.xml  the JUnit file xmlrunner wrote
    tests/fixtures/assertion-shapes/versions.json              which versions wrote them

The files are kept as the tools wrote them (timestamps, host name and temporary paths included).
``tests/test_assertion_shapes.py`` reads every fixture and checks what the assertion reader takes from
each failure against values written by hand from reading these files; when a new capture changes a
message's shape, that test says which.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "assertion-shapes"
PYTESTS = {"pytest-7": "pytest==7.*", "pytest-8": "pytest==8.*", "pytest-9": "pytest==9.*"}
MODES = {"default": ([], {}), "v": (["-v"], {}), "vv": (["-vv"], {}), "ci": ([], {"CI": "true"})}
UNITTEST_PYTHONS = ("python3.11", "python3.13")
XMLRUNNER = "unittest-xml-reporting==4.*"

# The values both suites compare, shaped like a recipe's: image references with registry/org/app:tag,
# service names.
VALUES = '''OLD = "codeberg.org/example/app:2.4.1"
NEW = "codeberg.org/example/app:2.5.0"
LONG_OLD = "git.coopcloud.tech/coop-cloud-mirrors/discourse-app:3.5.0"
LONG_NEW = "git.coopcloud.tech/coop-cloud-mirrors/discourse-app:3.5.3"
REDIS = "docker.io/library/redis:7.4.1-alpine"
SERVICES = ["app", "db", "redis", "sidekiq"]
COMPOSE_OLD = """services:
  app:
    image: git.coopcloud.tech/coop-cloud-mirrors/discourse-app:3.5.0
  redis:
    image: docker.io/library/redis:7.4.1-alpine
  sidekiq:
    image: git.coopcloud.tech/coop-cloud-mirrors/discourse-app:3.5.0
"""
COMPOSE_NEW = """services:
  app:
    image: git.coopcloud.tech/coop-cloud-mirrors/discourse-app:3.5.3
  redis:
    image: docker.io/library/redis:7.4.1-alpine
"""
'''

PYTEST_SUITE = (
    """
from dataclasses import dataclass

"""
    + VALUES
    + """

@dataclass
class Service:
    name: str
    image: str


def image_of(name):
    return {"app": LONG_OLD, "redis": REDIS}[name]


def test_str_short():
    image = OLD
    assert image == NEW


def test_str_long():
    image = LONG_OLD
    assert image == LONG_NEW


def test_str_from_call():
    assert image_of("app") == LONG_NEW


def test_str_from_attribute():
    app = Service("app", LONG_OLD)
    assert app.image == LONG_NEW


def test_str_custom_message():
    image = OLD
    assert image == NEW, f"app runs {image}, the upgrade wants {NEW}"


def test_str_custom_message_long():
    image = LONG_OLD
    assert image == LONG_NEW, f"app image after upgrade: {image}"


def test_str_reversed_literal_first():
    image = LONG_OLD
    assert LONG_NEW == image


def test_str_plain_word():
    state = "failed"
    assert state == "complete"


def test_list_item_dropped():
    assert SERVICES == ["app", "db", "redis"]


def test_list_item_added():
    assert ["app", "db"] == ["app", "db", "worker-2"]


def test_list_long_item_changed():
    assert [LONG_OLD, REDIS] == [LONG_NEW, REDIS]


def test_list_long_item_dropped():
    assert [f"service-number-{i}" for i in range(30)] + ["sidekiq"] == [f"service-number-{i}" for i in range(30)]


def test_dict_value_changed():
    assert {"image": LONG_OLD, "replicas": 1} == {"image": LONG_NEW, "replicas": 1}


def test_dict_key_dropped():
    assert {"app": LONG_OLD, "sidekiq": LONG_OLD} == {"app": LONG_OLD}


def test_dict_key_added():
    assert {"app": LONG_NEW} == {"app": LONG_NEW, "worker-2": LONG_NEW}


def test_dict_nested_value_changed():
    assert {"services": {"app": {"image": LONG_OLD}}} == {"services": {"app": {"image": LONG_NEW}}}


def test_set_item_dropped():
    assert set(SERVICES) == {"app", "db", "redis"}


def test_set_item_added():
    assert {"app", "db"} == {"app", "db", "worker-2"}


def test_in_list():
    assert LONG_NEW in [LONG_OLD, REDIS]


def test_in_multiline_str():
    assert "discourse-app:3.5.3" in COMPOSE_OLD


def test_not_in_list():
    assert "sidekiq" not in SERVICES


def test_not_in_multiline_str():
    assert "sidekiq:" not in COMPOSE_OLD


def test_multiline_str_image_changed():
    assert COMPOSE_OLD.replace("  sidekiq:\\n", "  worker:\\n") == COMPOSE_NEW.replace(
        "redis:7.4.1-alpine\\n", "redis:7.4.1-alpine\\n  worker:\\n    image: " + LONG_OLD + "\\n"
    )


def test_multiline_str_service_dropped():
    assert COMPOSE_OLD.replace("3.5.0", "3.5.3") == COMPOSE_NEW
"""
)

UNITTEST_SUITE = (
    """
import unittest

"""
    + VALUES
    + """

class Shapes(unittest.TestCase):
    def test_ut_str_short(self):
        self.assertEqual(OLD, NEW)

    def test_ut_str_long(self):
        self.assertEqual(LONG_OLD, LONG_NEW)

    def test_ut_str_with_msg(self):
        self.assertEqual(LONG_OLD, LONG_NEW, "app image after upgrade")

    def test_ut_list_item_dropped(self):
        self.assertEqual(SERVICES, ["app", "db", "redis"])

    def test_ut_list_item_added(self):
        self.assertListEqual(["app", "db"], ["app", "db", "worker-2"])

    def test_ut_list_long_item_changed(self):
        self.assertEqual([LONG_OLD, REDIS], [LONG_NEW, REDIS])

    def test_ut_list_long_item_dropped(self):
        many = [f"service-number-{i}" for i in range(30)]
        self.assertEqual([*many, "sidekiq"], many)

    def test_ut_dict_value_changed(self):
        self.assertEqual({"image": LONG_OLD, "replicas": 1}, {"image": LONG_NEW, "replicas": 1})

    def test_ut_dict_key_dropped(self):
        self.assertEqual({"app": LONG_OLD, "sidekiq": LONG_OLD}, {"app": LONG_OLD})

    def test_ut_set_item_dropped(self):
        self.assertEqual(set(SERVICES), {"app", "db", "redis"})

    def test_ut_count_equal_dropped(self):
        self.assertCountEqual(SERVICES, ["app", "db", "redis"])

    def test_ut_in(self):
        self.assertIn(LONG_NEW, [LONG_OLD, REDIS])

    def test_ut_not_in(self):
        self.assertNotIn("sidekiq", SERVICES)

    def test_ut_multiline_str_service_dropped(self):
        self.assertEqual(COMPOSE_OLD.replace("3.5.0", "3.5.3"), COMPOSE_NEW)

    def test_ut_multiline_str_image_changed(self):
        self.assertEqual(COMPOSE_NEW.replace("3.5.3", "3.5.0"), COMPOSE_NEW)
"""
)


def _run(
    argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, cwd=cwd, env=env)


def _venv(python: str, where: Path, requirement: str) -> tuple[Path, str]:
    """A fresh venv with ``requirement`` installed; its python and the version pip installed."""
    subprocess.run([python, "-m", "venv", str(where)], check=True)
    py = where / "bin" / "python"
    name = requirement.split("=", 1)[0]
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", requirement], check=True)
    shown = _run([str(py), "-m", "pip", "show", name]).stdout
    version = next(line.split(":", 1)[1].strip() for line in shown.splitlines() if line.startswith("Version:"))
    return py, version


def _python(name: str) -> str | None:
    """An interpreter that runs: on PATH, or one pyenv installed but does not put on PATH (its shim fails)."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for candidate in [shutil.which(name), *sorted(str(p) for p in pyenv.glob(f"*/bin/{name}"))]:
        if candidate and _run([candidate, "-V"]).returncode == 0:
            return candidate
    return None


def _suites(work: Path) -> None:
    (work / "test_shapes_pytest.py").write_text(textwrap.dedent(PYTEST_SUITE), encoding="utf-8")
    (work / "test_shapes_unittest.py").write_text(textwrap.dedent(UNITTEST_SUITE), encoding="utf-8")


def _clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "BUILD_NUMBER", "PYTEST_ADDOPTS")}
    return {**env, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", **extra}


def capture_pytest(tmp: Path) -> dict[str, dict[str, str]]:
    versions: dict[str, dict[str, str]] = {}
    for label, requirement in PYTESTS.items():
        py, version = _venv(sys.executable, tmp / f"venv-{label}", requirement)
        versions[label] = {"pytest": version, "python": _run([str(py), "-V"]).stdout.split()[1]}
        (OUT / label).mkdir(parents=True, exist_ok=True)
        for mode, (flags, env) in MODES.items():
            work = tmp / f"{label}-{mode}"
            work.mkdir()
            _suites(work)
            junit = OUT / label / f"{mode}.xml"
            proc = _run(
                [str(py), "-m", "pytest", "-p", "no:cacheprovider", f"--junitxml={junit}", "--rootdir", ".", *flags],
                cwd=work,
                env=_clean_env(env),
            )
            if proc.returncode != 1 or not junit.is_file():  # 1: tests ran and failed, as they should
                raise RuntimeError(f"{label} {mode}: pytest exited {proc.returncode}\n{proc.stdout}{proc.stderr}")
            print(f"{label} ({version}) {mode}: {junit.relative_to(OUT.parent.parent.parent)}")
    return versions


def capture_unittest(tmp: Path) -> dict[str, dict[str, str]]:
    versions: dict[str, dict[str, str]] = {}
    (OUT / "unittest").mkdir(parents=True, exist_ok=True)
    for name in UNITTEST_PYTHONS:
        python = _python(name)
        if python is None:
            print(f"{name} not found: its unittest capture is kept as it is", file=sys.stderr)
            continue
        py, version = _venv(python, tmp / f"venv-{name}", XMLRUNNER)
        full = _run([str(py), "-V"]).stdout.split()[1]
        label = "python-" + ".".join(full.split(".")[:2])
        work = tmp / label
        work.mkdir()
        _suites(work)
        reports = work / "reports"
        reports.mkdir()
        proc = _run(
            [str(py), "-m", "xmlrunner", "--output-file", str(reports / "junit.xml"), "test_shapes_unittest"],
            cwd=work,
            env=_clean_env({}),
        )
        junit = reports / "junit.xml"
        if proc.returncode != 1 or not junit.is_file():
            raise RuntimeError(f"{label}: xmlrunner exited {proc.returncode}\n{proc.stdout}{proc.stderr}")
        shutil.copyfile(junit, OUT / "unittest" / f"{label}.xml")
        versions[f"unittest/{label}"] = {"python": full, "unittest-xml-reporting": version}
        print(f"unittest ({full}, xmlrunner {version}): unittest/{label}.xml")
    return versions


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="assertion-shapes-") as tmp:
        versions = {**capture_pytest(Path(tmp)), **capture_unittest(Path(tmp))}
    manifest = OUT / "versions.json"
    previous = json.loads(manifest.read_text(encoding="utf-8")) if manifest.is_file() else {}
    manifest.write_text(json.dumps({**previous, **versions}, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
