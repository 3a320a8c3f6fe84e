"""Test-side Matrix helpers: an operator using a real nio client, and the bot as a real process.

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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from nio import AsyncClient, RoomCreateResponse, RoomSendResponse

from bot.devserver.synapse import LocalSynapse, MatrixUser

Event = dict[str, Any]
BOT_PASSWORD_ENV = "CCCI_TEST_BOT_PASSWORD"
# A person scrolling back sees everything: never let a limited timeline hide events from the checks.
OPERATOR_FILTER = {"room": {"timeline": {"limit": 1000}}}


@dataclass
class Operator:
    """A person in the ops room, typing commands with a real Matrix client."""

    user: MatrixUser
    url: str
    client: AsyncClient = field(init=False)
    since: str | None = None
    seen: list[Event] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.client = AsyncClient(self.url, self.user.user_id)
        self.client.restore_login(self.user.user_id, self.user.device_id or "TEST", self.user.access_token)

    async def close(self) -> None:
        await self.client.close()

    async def create_room(self, alias: str, invite: list[str]) -> str:
        resp = await self.client.room_create(alias=alias, invite=invite, name=alias)
        assert isinstance(resp, RoomCreateResponse), resp
        return str(resp.room_id)

    async def join(self, room: str) -> None:
        await self.client.join(room)

    async def say(self, room_id: str, body: str, thread_root: str | None = None, msgtype: str = "m.text") -> str:
        content: dict[str, Any] = {"msgtype": msgtype, "body": body}
        if thread_root:
            content["m.relates_to"] = {"rel_type": "m.thread", "event_id": thread_root}
        resp = await self.client.room_send(room_id, "m.room.message", content)
        assert isinstance(resp, RoomSendResponse), resp
        return str(resp.event_id)

    async def catch_up(self) -> None:
        """Skip everything already in the rooms, so waits only look at what comes next."""
        await self._sync(0)

    async def _sync(self, timeout_ms: int) -> list[Event]:
        resp = await self.client.sync(
            timeout=timeout_ms, since=self.since, full_state=self.since is None, sync_filter=OPERATOR_FILTER
        )
        assert hasattr(resp, "next_batch"), resp
        self.since = resp.next_batch
        new: list[Event] = []
        for room_id, info in resp.rooms.join.items():
            for event in info.timeline.events:
                source = dict(event.source)
                source["room_id"] = room_id
                new.append(source)
        self.seen.extend(new)
        return new

    async def wait_for(self, match: Callable[[Event], bool], timeout: float = 30.0, count: int = 1) -> list[Event]:
        """Events matching ``match`` seen so far, once there are ``count`` of them (or fail at the deadline)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [e for e in self.seen if match(e)]
            if len(found) >= count:
                return found
            left = deadline - time.monotonic()
            assert left > 0, f"waited {timeout}s for {count} matching event(s); saw {len(found)}"
            await self._sync(int(min(left, 5.0) * 1000))


def reply_to(event_id: str, sender: str) -> Callable[[Event], bool]:
    def match(e: Event) -> bool:
        content = e.get("content") or {}
        relates = content.get("m.relates_to") or {}
        return (
            e.get("type") == "m.room.message"
            and e.get("sender") == sender
            and (relates.get("m.in_reply_to") or {}).get("event_id") == event_id
        )

    return match


def reaction_to(event_id: str, sender: str) -> Callable[[Event], bool]:
    def match(e: Event) -> bool:
        relates = (e.get("content") or {}).get("m.relates_to") or {}
        return e.get("type") == "m.reaction" and e.get("sender") == sender and relates.get("event_id") == event_id

    return match


def joined(user_id: str) -> Callable[[Event], bool]:
    def match(e: Event) -> bool:
        return (
            e.get("type") == "m.room.member"
            and e.get("state_key") == user_id
            and (e.get("content") or {}).get("membership") == "join"
        )

    return match


@dataclass
class BotProcess:
    """`ccci-bot run` as a real process, logging to a file; stopped with SIGTERM like systemd would."""

    config_path: Path
    password: str
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, BOT_PASSWORD_ENV: self.password}
        handle = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--config", str(self.config_path)],
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
) -> None:
    config = {
        "ccci": {
            "runs_dir": str(runs_dir),
            "warm_dir": str(warm_dir),
            "active_dir": str(data_dir / "active"),
            "scan_interval_s": 3600,
        },
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
    }
    path.write_text(yaml.safe_dump(config))


def run(coro: Any) -> Any:
    return asyncio.run(coro)
