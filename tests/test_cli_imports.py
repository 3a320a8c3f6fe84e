"""A CLI answer imports only what it uses: no Matrix client, web server, Docker SDK, scheduler or event loop."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bot.ingest.scan import ingest
from tests.conftest import Site

HEAVY = ("nio", "aiohttp", "docker", "apscheduler", "multiprocessing", "prometheus_client", "asyncio")
PROBE = (
    "import json, sys\n"
    "from bot.cli import main\n"
    "code = main(sys.argv[1:])\n"
    f"print(json.dumps([code, sorted(m for m in {HEAVY!r} if m in sys.modules)]))\n"
)


@pytest.mark.parametrize(
    "command",
    [
        ["why", "mumble", "--no-ingest"],
        ["why", "mumble"],
        ["summary", "--no-ingest"],
        ["history", "mumble", "--no-ingest"],
        ["ingest"],
    ],
)
def test_cli_answers_without_importing_the_bots_services(site: Site, command: list[str]) -> None:
    ingest(site.store, site.config)
    dirs = ["--runs-dir", str(site.runs_dir), "--warm-dir", str(site.warm_dir)]
    dirs += ["--data-dir", str(site.config.data_dir)]
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *command, *dirs], capture_output=True, text=True, check=False, timeout=120
    )
    code, imported = json.loads(done.stdout.strip().splitlines()[-1])
    assert code == 0, done.stderr
    assert imported == []
