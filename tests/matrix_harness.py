"""Test-side Matrix helpers: the bot as a real process, its config, and the scripted operator.

Waiting is always for a condition (an event in the room, a process exit), bounded by a deadline:
the operator long-polls /sync, so there are no sleeps standing in for synchronisation.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from demo.devserver.synapse import LocalSynapse, MatrixUser
from demo.operator import Operator, joined, message_from, reaction_to, reply_to

__all__ = ["BotProcess", "Operator", "joined", "message_from", "reaction_to", "reply_to", "run", "write_bot_config"]
BOT_PASSWORD_ENV = "CCCI_TEST_BOT_PASSWORD"


@dataclass
class BotProcess:
    """`ccci-bot run` as a real process, logging to a file; stopped with SIGTERM like systemd would."""

    config_path: Path
    password: str
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    env: dict[str, str] | None = None  # extra environment (e.g. NOTIFY_SOCKET)
    argv: list[str] | None = None  # the command instead of `python -m bot.cli` (e.g. an installed ccci-bot)

    def start(self) -> None:
        env = {**os.environ, BOT_PASSWORD_ENV: self.password, **(self.env or {})}
        handle = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [*(self.argv or [sys.executable, "-m", "bot.cli"]), "run", "--config", str(self.config_path)],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        handle.close()

    def stop(self, timeout: float = 20.0) -> int:
        proc, self.proc = self.proc, None
        if proc is None:
            return 0
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise AssertionError(f"bot did not stop on SIGTERM within {timeout}s:\n{self.log()}") from None

    def kill(self) -> None:
        """A crash: SIGKILL to the bot's process group, nothing cleaned up."""
        proc, self.proc = self.proc, None
        assert proc is not None and proc.poll() is None, f"bot is not running:\n{self.log()}"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def wait_synced(self, data_dir: Path, timeout: float = 60.0) -> None:
        """Until the bot has finished its first sync (it saves the sync token only then)."""
        db = data_dir / "ccci-bot.sqlite3"
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc is not None and self.proc.poll() is None, f"bot exited:\n{self.log()}"
            if db.exists():
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
                    try:
                        if conn.execute("SELECT 1 FROM meta WHERE key = 'matrix.since'").fetchone():
                            return
                    except sqlite3.OperationalError:
                        pass  # schema not created yet
            assert time.monotonic() < deadline, f"bot did not sync within {timeout}s:\n{self.log()}"
            time.sleep(0.05)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""


def write_bot_config(
    path: Path,
    synapse: LocalSynapse,
    bot: MatrixUser,
    rooms: list[str],
    data_dir: Path,
    runs_dir: Path,
    warm_dir: Path,
    operators: list[str],
    runner: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    config = {
        "ccci": {
            "runs_dir": str(runs_dir),
            "warm_dir": str(warm_dir),
            "active_dir": str(data_dir / "active"),
        },
        "reports": {"poll_s": 3600},
        "links": {"base_url": "https://ci.example.org/runs/{run_id}/{path}"},
        "data_dir": str(data_dir),
        "matrix": {
            "homeserver": synapse.url,
            "user_id": bot.user_id,
            "password_env": BOT_PASSWORD_ENV,
            "rooms": rooms,
            "sync_timeout_s": 5,
            "backoff_min_s": 0.2,
            "backoff_max_s": 2,
        },
        "access": {"operators": operators, "min_power_level": 50},
        "docker": {"base_url": None},
    }
    if runner is not None:
        config["runner"] = runner
    for section, values in (extra or {}).items():
        merged = {**config.get(section, {}), **values} if isinstance(values, dict) else values
        config[section] = merged
    path.write_text(yaml.safe_dump(config))


def run(coro: Any) -> Any:
    return asyncio.run(coro)
