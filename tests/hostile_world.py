"""Run dirs as an attacker with write access to one of them would leave them (for the hostile tests).

The well-formed parts are real: the JUnit file comes from really running pytest; the hostile parts
(links, FIFOs, devices, absurd values, control characters) are what the tests are about.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from msgspec.structs import replace

from bot.config import Config
from bot.ingest.scan import ingest
from bot.masking import Masker
from bot.model.answers import IngestReport
from bot.service import Service
from bot.store import Store
from bot.web.metrics import Metrics
from bot.web.routes import make_app
from tests.junit_maker import run_pytest_junit

RECIPE = "evil"
RUN_ID = "evil-1"
FAILING = "test_evil_fails"
JUNIT_NAME = "custom__cc-ci__test_custom.xml"
# Where the attacker points links: a file outside every run dir standing in for /etc/shadow.
OUTSIDE_TEXT = "root:$6$OUTSIDE-SECRET-CONTENT:19000:0:99999:7:::"

SUITE = """
def test_evil_fails():
    assert 1 == 2, "evil assertion"

def test_evil_passes():
    pass
"""


def real_junit(workdir: Path) -> Path:
    """A JUnit file from a real pytest run with one failing and one passing test."""
    return run_pytest_junit(workdir, "custom__cc-ci__test_custom", SUITE)


def results(**override: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "schema": 2,
        "recipe": RECIPE,
        "version": "1.0.0+1.0",
        "ref": "1.0.0+1.0",
        "started": "2026-06-18T10:00:00Z",
        "finished": "2026-06-18T10:20:00Z",
        "stages": [
            {
                "name": "custom",
                "status": "fail",
                "tests": [{"name": FAILING, "status": "fail"}, {"name": "test_evil_passes", "status": "pass"}],
            }
        ],
    }
    data.update(override)
    return data


def make_run(runs_dir: Path, junit: Path, run_id: str = RUN_ID, **override: Any) -> Path:
    """A well-formed red run dir of recipe ``evil``; tests then make parts of it hostile."""
    run = runs_dir / run_id
    (run / "junit").mkdir(parents=True)
    (run / "results.json").write_text(json.dumps(results(**override)))
    shutil.copy(junit, run / "junit" / JUNIT_NAME)
    (run / "run.log").write_text(f"collecting\ntests/custom/test_custom.py::{FAILING} FAILED\nE   evil assertion\n")
    return run


def outside_file(tmp_path: Path) -> Path:
    path = tmp_path / "outside" / "shadow"
    path.parent.mkdir(exist_ok=True)
    path.write_text(OUTSIDE_TEXT + "\n" + f"{FAILING} {OUTSIDE_TEXT}\n")
    return path


def settled(config: Config) -> Config:
    """Files just written count as settled (the tests write run dirs and read them at once)."""
    return replace(config, ccci=replace(config.ccci, settle_s=0))


def guarded_ingest(store: Store, config: Config, timeout: float = 120.0) -> IngestReport:
    """Ingest in a thread; the join timeout only turns a hang into a failure (it is not synchronisation)."""
    out: list[IngestReport] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            out.append(ingest(store, config))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "ingest hung on a hostile run dir"
    if errors:
        raise errors[0]
    return out[0]


def fetch_all(config: Config, masker: Masker, paths: list[str]) -> dict[str, tuple[int, str]]:
    """GET each path from the real app (aiohttp test server); path → (status, body)."""
    service = Service(config)

    async def scenario() -> dict[str, tuple[int, str]]:
        await service.ingest()
        got: dict[str, tuple[int, str]] = {}
        async with TestClient(TestServer(make_app(service, masker, Metrics(service.store)))) as client:
            for path in paths:
                response = await client.get(path, allow_redirects=True)
                got[path] = (response.status, await response.text())
        return got

    try:
        return asyncio.run(scenario())
    finally:
        service.close()


def park(pid_dir: str) -> None:
    """A pool task that records its worker's pid and then never returns (stands in for a long read)."""
    import os

    Path(pid_dir, str(os.getpid())).write_text("")
    threading.Event().wait()
