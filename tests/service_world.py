"""A bot account in a room on the local Synapse, dirs and a config: what `doctor`, `run` under a notify
socket and the installed-wheel test need. Rooms are made over the client-server API with the users'
own tokens (no nio needed), each world with fresh user names so modules can share one Synapse."""

from __future__ import annotations

import itertools
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from demo.devserver.synapse import LocalSynapse, MatrixUser, free_port
from tests.matrix_harness import BOT_PASSWORD_ENV, write_bot_config

_counter = itertools.count()
WEBHOOK_ENV = "CCCI_TEST_WEBHOOK_SECRET"


@dataclass
class World:
    synapse: LocalSynapse
    bot: MatrixUser
    alice: MatrixUser
    room_id: str
    alias: str
    home: Path
    config_path: Path
    data_dir: Path

    def environ(self) -> dict[str, str]:
        return {**os.environ, BOT_PASSWORD_ENV: self.bot.password, WEBHOOK_ENV: "s3cret-hook"}

    def create_room(self, localpart: str, invite_bot: bool = False, public: bool = False) -> str:
        body = {
            "room_alias_name": localpart,
            "preset": "public_chat" if public else "private_chat",
            "invite": [self.bot.user_id] if invite_bot else [],
        }
        reply = self.synapse.api("POST", "/_matrix/client/v3/createRoom", token=self.alice.access_token, body=body)
        return str(reply["room_id"])


def make_world(synapse: LocalSynapse, home: Path, *, rooms: list[str] | None = None) -> World:
    """The bot joined to one room; ``rooms`` (aliases) replaces the configured rooms when given."""
    tag = f"{os.getpid()}-{next(_counter)}"
    bot = synapse.register(f"svc-bot-{tag}", "bot-password")
    alice = synapse.register(f"svc-alice-{tag}")
    world = World(synapse, bot, alice, "", f"#svc-{tag}:{synapse.server_name}", home, home / "bot.yaml", home / "state")
    world.room_id = world.create_room(f"svc-{tag}", invite_bot=True)
    synapse.api("POST", f"/_matrix/client/v3/join/{quote(world.room_id, safe='')}", token=bot.access_token, body={})
    runs, warm = home / "runs", home / "warm"
    for d in (runs, warm, world.data_dir / "active"):
        d.mkdir(parents=True, exist_ok=True)
    write_bot_config(
        world.config_path,
        synapse,
        bot,
        rooms if rooms is not None else [world.alias],
        world.data_dir,
        runs,
        warm,
        [alice.user_id],
        runner={"steps": [[sys.executable, "-c", "pass"]]},
        extra={"web": {"listen": f"127.0.0.1:{free_port()}"}, "reports": {"webhook_secret_env": WEBHOOK_ENV}},
    )
    return world
