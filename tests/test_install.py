"""The lean install: the wheel built from this checkout, installed into a clean venv (runtime
dependencies only, from pip's cache or PyPI), runs `--version`, `doctor` against the local Synapse,
and `run` under a notify socket until READY=1 — what an operator's `pip install` would get."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

pytest.importorskip("synapse", reason="matrix-synapse is not installed (pip install -e '.[test]')")

from bot import __version__
from demo.devserver.synapse import LocalSynapse
from demo.sample.scenarios import default_world
from tests.matrix_harness import BotProcess
from tests.service_world import make_world
from tests.test_sdnotify import Listener

pytestmark = [pytest.mark.slow, pytest.mark.synapse]
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """bin/ of a fresh venv with only the wheel and what it requires."""
    home = tmp_path_factory.mktemp("install")
    wheels = home / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr
    assert "deprecat" not in (build.stdout + build.stderr).lower(), build.stderr
    (wheel,) = wheels.glob("ccci_bot-*.whl")
    venv = home / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    install = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", str(wheel)], capture_output=True, text=True, timeout=900
    )
    assert install.returncode == 0, install.stderr
    assert "deprecat" not in (install.stdout + install.stderr).lower(), install.stderr
    yield venv / "bin"


def test_runtime_only(installed: Path) -> None:
    for absent in ("pytest", "synapse", "mypy"):
        probe = subprocess.run([str(installed / "python"), "-c", f"import {absent}"], capture_output=True, timeout=60)
        assert probe.returncode != 0, f"{absent} was installed by a plain install"
    version = subprocess.run([str(installed / "ccci-bot"), "--version"], capture_output=True, text=True, timeout=60)
    assert version.stdout.strip() == f"ccci-bot {__version__}"


def test_demo_says_what_to_install(installed: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(installed / "ccci-bot"), "demo", "--no-chat", "--out", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "pip install 'ccci-bot[demo]'" in proc.stderr
    assert not (tmp_path / "demo").exists()


def test_the_wheel_ships_the_sample_worlds_data(installed: Path, tmp_path: Path) -> None:
    """world.yaml is package data: the installed demo package reads it into the world this checkout builds."""
    now = "2026-06-18T12:00:00+00:00"
    code = (
        "from datetime import datetime\n"
        "from demo.sample import worldfile\n"
        "from demo.sample.scenarios import default_world\n"
        f"world = default_world(datetime.fromisoformat({now!r}))\n"
        "print(worldfile.WORLD_FILE)\n"
        "print(len(world.recipes), len(world.runs))\n"
    )
    # run from tmp_path, so that the checkout's demo/ is not the one imported
    done = subprocess.run(
        [str(installed / "python"), "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    where, counts = done.stdout.splitlines()
    assert Path(where).is_relative_to(installed.parent)
    world = default_world(datetime.fromisoformat(now))
    assert counts.split() == [str(len(world.recipes)), str(len(world.runs))]


def test_doctor_and_run_until_ready(installed: Path, synapse: LocalSynapse, tmp_path: Path) -> None:
    world = make_world(synapse, tmp_path)
    doctor = subprocess.run(
        [str(installed / "ccci-bot"), "doctor", "--config", str(world.config_path)],
        capture_output=True,
        text=True,
        env=world.environ(),
        cwd=tmp_path,  # not the checkout: nothing may come from the source tree
        timeout=120,
    )
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert doctor.stdout.splitlines()[-1] == "all checks pass"
    name = f"@ccci-test-install-{os.getpid()}"
    listener = Listener(b"\0" + name[1:].encode())
    bot = BotProcess(
        world.config_path,
        world.bot.password,
        tmp_path / "bot.log",
        env={**world.environ(), "NOTIFY_SOCKET": name, "WATCHDOG_USEC": "2000000"},
        argv=[str(installed / "ccci-bot")],
    )
    bot.start()
    try:
        try:
            ready = listener.until("READY", 90)
        except TimeoutError:
            raise AssertionError(f"no READY=1:\n{bot.log()}") from None
        assert ready["STATUS"].startswith("ready:")
        assert bot.proc is not None
        bot.proc.send_signal(signal.SIGTERM)
        assert bot.proc.wait(10) == 0, bot.log()
    finally:
        bot.stop()
        listener.close()
