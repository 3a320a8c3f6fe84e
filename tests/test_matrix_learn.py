"""`!ccci learn` on the real Synapse: the bot proposes, a non-operator's 👍 is refused and writes nothing,
an operator's 👍 (a real m.reaction with an m.annotation relation) teaches the signature, and the red is
decided again. The bot is `ccci-bot run` as a real process; the operators are real matrix-nio clients."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("synapse", reason="matrix-synapse is not installed (pip install -e '.[test]')")

from nio import RoomSendResponse

from bot.chat.proposals import PROPOSAL_KEY
from bot.cli import main as cli
from bot.kb import load_kb
from demo.devserver.synapse import LocalSynapse, MatrixUser
from demo.sample.generate import GeneratedData
from tests.matrix_harness import BotProcess, Operator, joined, reply_to, run, write_bot_config

pytestmark = [pytest.mark.slow, pytest.mark.synapse]
OUTLINE_ASSERT = "assert 'failed' == 'complete'"


@dataclass
class Room:
    synapse: LocalSynapse
    bot_user: MatrixUser
    alice: MatrixUser  # an operator
    bob: MatrixUser  # power level 0
    room_id: str
    kb_dir: Path
    config_path: Path
    bot: BotProcess


@pytest.fixture(scope="module")
def room(synapse: LocalSynapse, sample: GeneratedData, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Room]:
    home = tmp_path_factory.mktemp("learn")
    runs_dir, warm_dir, data_dir, kb_dir = home / "runs", home / "warm", home / "state", home / "kb"
    shutil.copytree(sample.runs_dir, runs_dir, symlinks=True)
    shutil.copytree(sample.warm_dir, warm_dir)
    tag = f"learn-{os.getpid()}"
    bot_user = synapse.register(f"{tag}-bot", "bot-password")
    alice, bob = synapse.register(f"{tag}-alice"), synapse.register(f"{tag}-bob")

    async def setup() -> str:
        a, b = Operator(alice, synapse.url), Operator(bob, synapse.url)
        room_id = await a.create_room(tag, invite=[bot_user.user_id, bob.user_id])
        await b.join(room_id)
        await a.close()
        await b.close()
        return room_id

    room_id = run(setup())
    config_path = home / "bot.yaml"
    write_bot_config(
        config_path,
        synapse,
        bot_user,
        [f"#{tag}:{synapse.server_name}"],
        data_dir,
        runs_dir,
        warm_dir,
        [alice.user_id],
        extra={"matrix": {"e2ee": False}, "knowledge": {"dirs": [str(kb_dir)]}},
    )
    assert cli(["ingest", "--config", str(config_path)]) == 0
    bot = BotProcess(config_path, "bot-password", home / "bot.log")
    bot.start()

    async def wait_joined() -> None:
        a = Operator(alice, synapse.url)
        await a.wait_for(joined(bot_user.user_id), timeout=60)
        await a.close()

    try:
        run(wait_joined())
        yield Room(synapse, bot_user, alice, bob, room_id, kb_dir, config_path, bot)
    finally:
        code = bot.stop()
        assert code == 0, f"bot exited {code} on SIGTERM:\n{bot.log()}"


def content(event: dict[str, Any]) -> dict[str, Any]:
    value = event.get("content")
    assert isinstance(value, dict)
    return value


async def react(who: Operator, room_id: str, event_id: str, key: str = "👍") -> str:
    relates = {"rel_type": "m.annotation", "event_id": event_id, "key": key}
    resp = await who.client.room_send(room_id, "m.reaction", {"m.relates_to": relates})
    assert isinstance(resp, RoomSendResponse), resp
    return str(resp.event_id)


def test_a_thumbs_up_from_an_operator_teaches_and_one_from_anyone_else_is_refused(room: Room) -> None:
    async def scenario() -> tuple[str, str, str, str]:
        alice, bob = Operator(room.alice, room.synapse.url), Operator(room.bob, room.synapse.url)
        await alice.catch_up()
        await bob.catch_up()
        asked = await alice.say(room.room_id, f"!ccci learn outline recipe-defect {OUTLINE_ASSERT}")
        (proposal,) = await alice.wait_for(reply_to(asked, room.bot_user.user_id), timeout=60)
        proposed = content(proposal)
        assert PROPOSAL_KEY in proposed, proposed  # the homeserver has it as the bot sent it
        proposal_id = str(proposal["event_id"])

        await react(bob, room.room_id, proposal_id)
        (refusal,) = await bob.wait_for(reply_to(proposal_id, room.bot_user.user_id), timeout=60)
        assert not room.kb_dir.exists(), "a non-operator's 👍 wrote a signature"

        await react(alice, room.room_id, proposal_id, "👀")  # not a confirmation: nothing happens
        await react(alice, room.room_id, proposal_id)
        replies = await alice.wait_for(reply_to(proposal_id, room.bot_user.user_id), timeout=60, count=2)
        (taught,) = [r for r in replies if r["event_id"] != refusal["event_id"]]

        why = await alice.say(room.room_id, "!ccci why outline")
        (answer,) = await alice.wait_for(reply_to(why, room.bot_user.user_id), timeout=60)
        await alice.close()
        await bob.close()
        return (
            str(proposed["body"]),
            str(content(refusal)["body"]),
            str(content(taught)["body"]),
            str(content(answer)["body"]),
        )

    proposed, refusal, taught, why = run(scenario())
    assert "✓ matches the current failure custom/test_collection_export_completes" in proposed
    assert "An operator's 👍 on this message teaches it." in proposed
    assert refusal.startswith(f"Sorry, {room.bob.user_id}: a 👍 teaches the knowledge base only from an operator")
    assert taught.startswith("Taught learned-outline-") and "outline" in taught and "recipe-defect" in taught
    assert str(room.kb_dir) not in taught  # never a host path in chat
    (path,) = room.kb_dir.iterdir()
    assert f"by {room.alice.user_id}" in path.read_text()
    sid = path.stem
    assert any(s.id == sid for s in load_kb([room.kb_dir]).signatures)
    assert "recipe-defect" in why and sid in why  # the running bot reloaded its knowledge base


def test_a_signature_taught_on_the_cli_beside_the_running_bot_is_in_force_after_its_next_scan(
    room: Room, capsys: pytest.CaptureFixture[str]
) -> None:
    """`learn --apply` in another process writes the file; the bot's next scan (asked for here with
    `!ccci ingest`; the report loop's poll does the same) reloads its knowledge base: `status` names it."""
    config = ["--no-ingest", "--config", str(room.config_path)]
    capsys.readouterr()
    assert cli(["why", "mattermost-lts", "--json", *config]) == 0
    message = json.loads(capsys.readouterr().out)["failures"][0]["message"]
    pattern = max(re.findall(r"[A-Za-z_][A-Za-z0-9_ ]{9,}", message), key=len).strip()  # plain words: a literal
    assert cli(["learn", "mattermost-lts", "recipe-defect", pattern, "--apply", "--json", *config]) == 0
    taught = json.loads(capsys.readouterr().out)
    version = taught["taught"]["kb_version"]

    async def scenario() -> str:
        alice = Operator(room.alice, room.synapse.url)
        await alice.catch_up()
        scan = await alice.say(room.room_id, "!ccci ingest")
        await alice.wait_for(reply_to(scan, room.bot_user.user_id), timeout=60)
        asked = await alice.say(room.room_id, "!ccci status")
        (status,) = await alice.wait_for(reply_to(asked, room.bot_user.user_id), timeout=60)
        await alice.close()
        return str(content(status)["body"])

    assert f"knowledge base {version}" in run(scenario())
    assert f"→ {version}; added {taught['signature_id']}" in room.bot.log()
