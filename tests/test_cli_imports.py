"""A CLI answer loads none of the bot's services: no Matrix client, web server, Docker SDK or scheduler.

Those are what `ccci-bot run`, `web`, `rerun` and the report loop need; an operator asking `why` on the
host should not pay for them, nor need them to work."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bot.ingest.scan import ingest
from tests.conftest import Site

SERVICES = ("nio", "aiohttp", "docker", "apscheduler")  # Matrix client, web server, Docker SDK, scheduler
PROBE = (
    "import json, sys\n"
    "from bot.cli import main\n"
    "code = main(sys.argv[1:])\n"
    f"print(json.dumps([code, sorted(m for m in {SERVICES!r} if m in sys.modules)]))\n"
)


@pytest.mark.parametrize("command", [["why", "mumble"], ["summary"], ["history", "mumble"]])
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
