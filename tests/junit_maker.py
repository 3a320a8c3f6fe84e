"""JUnit files for tests, produced the only honest way: by really running pytest on a small suite."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path


def run_pytest_junit(workdir: Path, name: str, source: str, *extra: str) -> Path:
    """Write ``source`` as a test module, run pytest on it with --junitxml, return the XML path."""
    workdir.mkdir(parents=True, exist_ok=True)
    module = workdir / f"test_{name}.py"
    module.write_text(textwrap.dedent(source))
    junit = workdir / "junit" / f"{name}.xml"
    junit.parent.mkdir(exist_ok=True)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={junit}",
            "--rootdir",
            str(workdir),
            str(module),
            *extra,
        ],
        capture_output=True,
        text=True,
        cwd=workdir,
        # Plain pytest, as cc-ci runs it: the plugins installed here for our own suite (hypothesis,
        # xdist) would only add ~0.7 s of imports to every call.
        env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
        check=False,
    )
    assert junit.is_file(), proc.stdout + proc.stderr
    return junit
