"""The bot in an end-to-end encrypted room, with Element's own crypto stack as the operator.

A real Synapse on 127.0.0.1, `ccci-bot run` as a real process, and the operator is matrix-js-sdk with
its Rust crypto (what Element Web runs) on Node, driven through tests/js/operator.mjs. The operator
checks that answers arrive encrypted and decrypt, and that the bot's device is signed by its owner
(cross-signing), as Element would show it. Waits are for events and rows, bounded by deadlines."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from canonicaljson import encode_canonical_json
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from nio import ToDeviceMessage

pytest.importorskip("synapse", reason="matrix-synapse is not installed (pip install -e '.[test]')")

from bot.cli import main as cli
from bot.matrix.crosssign import KEYS_FILE, Session, b64, cross_signing_status
from demo.devserver.synapse import LocalSynapse, MatrixUser
from demo.operator import Operator, reply_to
from demo.sample.generate import GeneratedData
from demo.sample.staging import copy_runs, runs_of_sweep_window, runs_up_to
from demo.sample.standin_runner import STEP, runner_env
from tests.js_operator import JsOperator, skip_without_node
from tests.matrix_harness import BotProcess, write_bot_config

pytestmark = [pytest.mark.slow, pytest.mark.synapse]
RECOVERY_ENV = "CCCI_TEST_RECOVERY_KEY"


@dataclass
class E2ee:
    synapse: LocalSynapse
    js: JsOperator
    bot_user: MatrixUser
    carol: MatrixUser
    room_id: str
    bot: BotProcess
    home: Path
    data_dir: Path
    runs_dir: Path

    @property
    def device_id(self) -> str:
        return str(json.loads((self.data_dir / "matrix-session.json").read_text())["device_id"])

    def ask(self, client: str, body: str, timeout: float = 90.0) -> dict[str, Any]:
        """Send a command from ``client`` and return the bot's reply as that client decrypted it."""
        asked = self.js.call("send", name=client, room_id=self.room_id, body=body)["event_id"]
        match = {"room_id": self.room_id, "sender": self.bot_user.user_id, "reply_to": asked, "type": "m.room.message"}
        (reply,) = self.js.call("wait", timeout=timeout, name=client, match=match)["events"]
        return dict(reply)


def assert_encrypted_and_readable(event: dict[str, Any]) -> None:
    assert event["wire_type"] == "m.room.encrypted" and event["encrypted"], event
    assert not event["decryption_failure"], event
    assert event["msgtype"] == "m.notice" and event["body"], event


def make_bot(
    synapse: LocalSynapse,
    sample: GeneratedData,
    home: Path,
    bot_user: MatrixUser,
    rooms: list[str],
    operators: list[str],
    reports: dict[str, Any] | None = None,
    matrix: dict[str, Any] | None = None,
    knowledge: Path | None = None,
) -> tuple[BotProcess, Path, Path]:
    runs_dir, warm_dir, data_dir = home / "runs", home / "warm", home / "state"
    for d in (runs_dir, warm_dir, data_dir / "active"):
        d.mkdir(parents=True, exist_ok=True)
    config_path = home / "bot.yaml"
    extra: dict[str, Any] = {"reports": {"poll_s": 1, "quiet_s": 0, **(reports or {})}}
    if matrix:
        extra["matrix"] = matrix
    if knowledge:
        extra["knowledge"] = {"dirs": [str(knowledge)]}
    env = runner_env(runs_dir, sample.recipes_src, sample.world_file)  # the stand-in runner plays cc-ci
    standin = {"steps": [list(STEP)], "env": env, "busy_poll_s": 0.1}
    write_bot_config(
        config_path, synapse, bot_user, rooms, data_dir, runs_dir, warm_dir, operators, runner=standin, extra=extra
    )
    return BotProcess(config_path, bot_user.password, home / "bot.log"), data_dir, runs_dir


@pytest.fixture(scope="module")
def e2ee(synapse: LocalSynapse, sample: GeneratedData, tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ee]:
    skip_without_node()
    home = tmp_path_factory.mktemp("e2ee")
    bot_user = synapse.register("e2ee-bot", "bot-password")
    carol = synapse.register("carol-e2ee", "carol-password")
    js = JsOperator(home / "node.log")
    bot: BotProcess | None = None
    try:
        js.call("login", name="carol", baseUrl=synapse.url, user=carol.user_id, password=carol.password)
        alias = f"e2ee-ops-{os.getpid()}"
        room_id = js.call("create_room", name="carol", invite=[bot_user.user_id], encrypted=True, alias=alias)[
            "room_id"
        ]
        bot, data_dir, runs_dir = make_bot(
            synapse,
            sample,
            home,
            bot_user,
            [room_id],
            [carol.user_id],
            matrix={"undecryptable_notice_s": 15},
            knowledge=home / "kb",
        )
        copy_runs(sample, runs_up_to(sample, 2), runs_dir)  # history; sweep 3 comes later, while the bot runs
        assert cli(["ingest", "--config", str(bot.config_path)]) == 0
        bot.start()
        js.call("wait_member", timeout=60, name="carol", room_id=room_id, user_id=bot_user.user_id)
        yield E2ee(synapse, js, bot_user, carol, room_id, bot, home, data_dir, runs_dir)
    finally:
        if bot is not None:
            code = bot.stop()
            assert code == 0, f"bot exited {code} on SIGTERM:\n{bot.log()}"
        js.close()


def test_commands_in_an_encrypted_room_get_encrypted_answers_from_a_cross_signed_device(
    e2ee: E2ee, sample: GeneratedData
) -> None:
    recipe = sorted({r.recipe for r in runs_up_to(sample, 2)})[0]
    why = e2ee.ask("carol", f"!ccci why {recipe}")
    assert_encrypted_and_readable(why)
    assert recipe in str(why["body"]) and f"<b>{recipe}</b>" in str(why["formatted_body"])
    help_ = e2ee.ask("carol", "!ccci help")
    assert_encrypted_and_readable(help_)
    assert "why <recipe>" in str(help_["body"])

    device = e2ee.device_id
    signed = e2ee.js.call("wait_signed", timeout=60, name="carol", user_id=e2ee.bot_user.user_id, device_id=device)
    assert signed["signedByOwner"] is True
    assert e2ee.js.call("devices", name="carol", user_id=e2ee.bot_user.user_id)["devices"] == [device]

    keys_file = e2ee.data_dir / KEYS_FILE
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    seeds = json.loads(keys_file.read_text())["keys"].values()
    log = (e2ee.home / "bot.log").read_text()
    assert "cross-signed" in log and not any(seed in log for seed in seeds)  # no key material in the log

    session = json.loads((e2ee.data_dir / "matrix-session.json").read_text())
    ok, said = asyncio.run(
        cross_signing_status(Session(e2ee.synapse.url, session["user_id"], device, session["access_token"]))
    )
    assert ok and said == f"device {device} is cross-signed"  # what `doctor` can report

    status = e2ee.ask("carol", "!ccci status")
    assert f"E2EE on, device {device} cross-signed" in str(status["body"])


def test_an_acting_command_from_an_operator_device_the_bot_knows_is_accepted(e2ee: E2ee) -> None:
    answer = e2ee.ask("carol", "!ccci ingest")
    assert_encrypted_and_readable(answer)
    assert "Sorry" not in str(answer["body"]) and "scanned" in str(answer["body"])


def test_an_operators_thumbs_up_as_element_sends_it_teaches_learn_in_an_encrypted_room(
    e2ee: E2ee, capsys: pytest.CaptureFixture[str]
) -> None:
    """Element (matrix-js-sdk) sends a reaction in the clear even in an encrypted room; the bot takes it on
    the sender the homeserver vouches for, as it takes a plain command, and teaches the signature."""
    capsys.readouterr()
    assert cli(["why", "mattermost-lts", "--json", "--no-ingest", "--config", str(e2ee.bot.config_path)]) == 0
    message = json.loads(capsys.readouterr().out)["failures"][0]["message"]
    pattern = max(re.findall(r"[A-Za-z_][A-Za-z0-9_ ]{9,}", message), key=len).strip()  # plain words: a literal
    proposal = e2ee.ask("carol", f"!ccci learn mattermost-lts recipe-defect {pattern}")
    assert_encrypted_and_readable(proposal)
    assert "An operator's 👍 on this message teaches it." in str(proposal["body"]), proposal["body"]
    kb_dir = e2ee.home / "kb"
    assert not kb_dir.exists()  # nothing written before the 👍
    e2ee.js.call("react", name="carol", room_id=e2ee.room_id, event_id=proposal["event_id"], key="👍")
    mine = {"room_id": e2ee.room_id, "sender": e2ee.carol.user_id, "relates_to": proposal["event_id"]}
    (thumb,) = e2ee.js.call("wait", timeout=30, name="carol", match={**mine, "rel_type": "m.annotation"})["events"]
    assert thumb["wire_type"] == "m.reaction" and not thumb["encrypted"]  # as Element sends it
    match = {"room_id": e2ee.room_id, "sender": e2ee.bot_user.user_id, "reply_to": proposal["event_id"]}
    (taught,) = e2ee.js.call("wait", timeout=90, name="carol", match=match)["events"]
    assert_encrypted_and_readable(taught)
    assert str(taught["body"]).startswith("Taught learned-mattermost-lts-"), taught["body"]
    (path,) = kb_dir.iterdir()
    assert path.name.startswith("learned-mattermost-lts-") and f"by {e2ee.carol.user_id}" in path.read_text()
    assert str(kb_dir) not in str(taught["body"])  # never a host path in chat


def test_a_device_whose_signing_key_changes_is_logged_and_shown_by_status(e2ee: E2ee) -> None:
    """Trust on first use: a member device re-publishing other keys under the same device id keeps its first."""
    mallory = e2ee.synapse.register("mallory-e2ee", "mallory-password")
    device = str(mallory.device_id)

    def sign(key: Ed25519PrivateKey, obj: dict[str, Any]) -> dict[str, Any]:
        signature = b64(key.sign(encode_canonical_json(obj)))
        return {**obj, "signatures": {mallory.user_id: {f"ed25519:{device}": signature}}}

    def publish(key: Ed25519PrivateKey) -> str:
        """Device keys signed by ``key``, and one-time keys (so the bot can open an olm session at once)."""
        public = b64(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
        keys = {
            "user_id": mallory.user_id,
            "device_id": device,
            "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
            "keys": {f"ed25519:{device}": public, f"curve25519:{device}": b64(os.urandom(32))},
        }
        one_time = {
            f"signed_curve25519:{n}{os.urandom(3).hex()}": sign(key, {"key": b64(os.urandom(32))}) for n in range(4)
        }
        body = {"device_keys": sign(key, keys), "one_time_keys": one_time}
        e2ee.synapse.api("POST", "/_matrix/client/v3/keys/upload", token=mallory.access_token, body=body)
        return public

    first = publish(Ed25519PrivateKey.generate())
    invite = {"user_id": mallory.user_id}
    e2ee.synapse.api(
        "POST", f"/_matrix/client/v3/rooms/{e2ee.room_id}/invite", token=e2ee.carol.access_token, body=invite
    )
    e2ee.synapse.api("POST", f"/_matrix/client/v3/join/{e2ee.room_id}", token=mallory.access_token, body={})
    e2ee.ask("carol", "!ccci help")  # the bot encrypts for every member's device: it has mallory's first key now
    second = publish(Ed25519PrivateKey.generate())
    deadline = time.monotonic() + 60
    while "changed its signing key" not in e2ee.bot.log():  # the bot re-queries on the device-list change
        assert time.monotonic() < deadline, f"no key change logged:\n{e2ee.bot.log()}"
        time.sleep(0.1)
    assert f"device {device} of {mallory.user_id} changed its signing key (first seen {first}, now {second})" in (
        e2ee.bot.log()
    )
    status = e2ee.ask("carol", "!ccci status")
    assert f"device key changed: {mallory.user_id} {device} (first {first[:8]}…, now {second[:8]}…)" in str(
        status["body"]
    )
    e2ee.synapse.api("POST", f"/_matrix/client/v3/rooms/{e2ee.room_id}/leave", token=mallory.access_token, body={})


def test_a_message_whose_room_key_never_arrives_is_answered_once_that_it_could_not_be_read(e2ee: E2ee) -> None:
    """An encrypted event for a megolm session nobody shared with the bot: it waits, then says so, once."""
    content = {
        "algorithm": "m.megolm.v1.aes-sha2",
        "ciphertext": "AwgAEpAB" + "A" * 120,
        "sender_key": "B" * 43,
        "device_id": "NOSUCHDEVICE",
        "session_id": "C" * 43,
    }
    path = f"/_matrix/client/v3/rooms/{e2ee.room_id}/send/m.room.encrypted/undecryptable-{os.getpid()}"
    event_id = e2ee.synapse.api("PUT", path, token=e2ee.carol.access_token, body=content)["event_id"]
    match = {"room_id": e2ee.room_id, "sender": e2ee.bot_user.user_id, "reply_to": event_id}
    (told,) = e2ee.js.call("wait", timeout=60, name="carol", match=match)["events"]
    assert_encrypted_and_readable(told)
    assert "could not decrypt this message" in str(told["body"])
    e2ee.ask("carol", "!ccci help")  # later traffic: still one notice
    told_again = e2ee.js.call("wait", name="carol", match=match)["events"]
    assert len(told_again) == 1
    assert f"gave up decrypting {event_id}" in e2ee.bot.log()


def test_a_command_whose_room_key_arrives_late_is_answered_once_it_does(e2ee: E2ee, tmp_path: Path) -> None:
    """The operator's client sends a command and shares its room key with the bot only afterwards."""
    erin = e2ee.synapse.register("erin-e2ee", "erin-password")
    invite = {"user_id": erin.user_id}
    path = f"/_matrix/client/v3/rooms/{e2ee.room_id}/invite"
    e2ee.synapse.api("POST", path, token=e2ee.carol.access_token, body=invite)
    e2ee.synapse.api("POST", f"/_matrix/client/v3/join/{e2ee.room_id}", token=erin.access_token, body={})
    bot = e2ee.bot_user.user_id

    async def scenario() -> None:
        op = Operator(erin, e2ee.synapse.url, store_path=tmp_path / "erin-store")
        try:
            await op.catch_up()  # room state, own keys published, members' keys queried
            client, olm, room_id = op.client, op.client.olm, e2ee.room_id
            await client.joined_members(room_id)
            if client.should_query_keys:
                await client.keys_query()
            olm.create_outbound_group_session(room_id)
            session = olm.outbound_group_sessions[room_id]
            room_key = {  # as nio would share it, but held back for now (the index-0 ratchet state)
                "algorithm": "m.megolm.v1.aes-sha2",
                "room_id": room_id,
                "session_id": session.id,
                "session_key": session.session_key,
            }
            session.shared = True
            _, content = client.encrypt(room_id, "m.room.message", {"msgtype": "m.text", "body": "!ccci help"})
            txn = f"/_matrix/client/v3/rooms/{room_id}/send/m.room.encrypted/late-{os.getpid()}"
            event_id = e2ee.synapse.api("PUT", txn, token=erin.access_token, body=content)["event_id"]
            deadline = time.monotonic() + 60
            while f"cannot decrypt {event_id}" not in e2ee.bot.log():
                assert time.monotonic() < deadline, f"the bot never saw the message:\n{e2ee.bot.log()}"
                await asyncio.sleep(0.1)
            device = olm.device_store[bot][e2ee.device_id]
            await client.keys_claim({bot: [e2ee.device_id]})
            olm_session = olm.session_store.get(device.curve25519)
            payload = olm._olm_encrypt(olm_session, device, "m.room_key", room_key)
            await client.to_device(ToDeviceMessage("m.room.encrypted", bot, e2ee.device_id, payload))
            (reply,) = await op.wait_for(reply_to(event_id, bot), timeout=60)
            assert reply.get("encrypted") and "why <recipe>" in str(reply["content"]["body"])
        finally:
            await op.close()

    asyncio.run(scenario())
    assert "now that its room key arrived" in e2ee.bot.log()
    e2ee.synapse.api("POST", f"/_matrix/client/v3/rooms/{e2ee.room_id}/leave", token=erin.access_token, body={})


def test_after_a_restart_a_new_operator_device_still_reads_the_answers_and_the_bot_keeps_one_device(
    e2ee: E2ee,
) -> None:
    device = e2ee.device_id
    e2ee.bot.stop()
    e2ee.bot.start()
    e2ee.bot.wait_synced(e2ee.data_dir)
    e2ee.js.call("login", name="carol2", baseUrl=e2ee.synapse.url, user=e2ee.carol.user_id, password="carol-password")
    try:
        answer = e2ee.ask("carol2", "!ccci help")
        assert_encrypted_and_readable(answer)
        assert e2ee.device_id == device
        devices = e2ee.js.call("devices", name="carol2", user_id=e2ee.bot_user.user_id)["devices"]
        assert devices == [device]
        signed = e2ee.js.call("signed_now", name="carol2", user_id=e2ee.bot_user.user_id, device_id=device)
        assert signed["signedByOwner"] is True
    finally:
        e2ee.js.call("stop", name="carol2")


def test_a_rerun_is_watched_in_one_edited_message_and_reported_all_encrypted(e2ee: E2ee, sample: GeneratedData) -> None:
    recipe = "mumble"
    asked = e2ee.js.call("send", name="carol", room_id=e2ee.room_id, body=f"!ccci rerun {recipe}")["event_id"]
    match = {"room_id": e2ee.room_id, "sender": e2ee.bot_user.user_id, "reply_to": asked, "type": "m.room.message"}
    replies = e2ee.js.call("wait", timeout=180, name="carol", match=match, count=3)["events"]
    for reply in replies:
        assert_encrypted_and_readable(reply)
    bodies = [str(r["body"]) for r in replies]
    assert bodies[0].startswith(f"Queued: isolation rerun of {recipe}")
    # the status message (as the client shows it: its latest edit, "running, …" then "ended after …")
    status = next(r for r in replies if "; asked by " in str(r["body"]))
    assert any(f"Isolation rerun of {recipe}" in b and "1 of 1" in b for b in bodies), bodies
    edit = {"room_id": e2ee.room_id, "rel_type": "m.replace", "relates_to": status["event_id"]}
    edits = e2ee.js.call("wait", timeout=60, name="carol", match=edit)["events"]
    assert all(e["wire_type"] == "m.room.encrypted" and not e["decryption_failure"] for e in edits)
    assert "(done: " in str(edits[-1]["new_body"]) and "ended after " in str(edits[-1]["new_body"])


def test_a_sweep_summary_and_its_thread_arrive_encrypted(e2ee: E2ee, sample: GeneratedData) -> None:
    # cc-ci writes sweep 3 while a run is marked in flight (so the polling bot never sees half a sweep)
    in_flight = e2ee.data_dir / "active" / "sweep-3"
    in_flight.touch()
    copy_runs(sample, runs_of_sweep_window(sample, 3), e2ee.runs_dir)
    in_flight.unlink()
    bot = e2ee.bot_user.user_id
    match = {"room_id": e2ee.room_id, "sender": bot, "body_prefix": "Sweep ", "not_edit": True}
    (head,) = e2ee.js.call("wait", timeout=120, name="carol", match=match)["events"]
    assert head["wire_type"] == "m.room.encrypted" and not head["decryption_failure"]
    thread = {"room_id": e2ee.room_id, "sender": bot, "thread_root": head["event_id"]}
    details = e2ee.js.call("wait", timeout=60, name="carol", match=thread)["events"]
    assert details and all(d["wire_type"] == "m.room.encrypted" and not d["decryption_failure"] for d in details)
    assert "<table>" in str(details[0]["formatted_body"])


def test_with_cross_signing_made_in_the_client_the_bot_signs_its_device_with_the_recovery_key(
    synapse: LocalSynapse, sample: GeneratedData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The account's keys were made by a person's client (as Element does); the bot gets the recovery key."""
    skip_without_node()
    bot_user = synapse.register("e2ee-recovery-bot", "bot-password")
    dave = synapse.register("dave-e2ee", "dave-password")
    js = JsOperator(tmp_path / "node.log")
    bot: BotProcess | None = None
    try:
        js.call("login", name="human", baseUrl=synapse.url, user=bot_user.user_id, password="bot-password")
        made = js.call("bootstrap_cross_signing", timeout=90, name="human")
        recovery_key = str(made["recovery_key"])
        js.call("logout", name="human")
        js.call("login", name="dave", baseUrl=synapse.url, user=dave.user_id, password="dave-password")
        room_id = js.call("create_room", name="dave", invite=[bot_user.user_id], encrypted=True, alias=None)["room_id"]

        # Without the recovery key the bot says plainly that its device is not cross-signed, and why.
        bot, data_dir, _ = make_bot(
            synapse, sample, tmp_path, bot_user, [room_id], [dave.user_id], matrix={"recovery_key_env": RECOVERY_ENV}
        )
        monkeypatch.delenv(RECOVERY_ENV, raising=False)
        bot.start()
        bot.wait_synced(data_dir)
        js.call("wait_member", timeout=60, name="dave", room_id=room_id, user_id=bot_user.user_id)
        assert "not cross-signed" in bot.log() and "matrix.recovery_key_env" in bot.log()
        device = str(json.loads((data_dir / "matrix-session.json").read_text())["device_id"])
        assert js.call("signed_now", name="dave", user_id=bot_user.user_id, device_id=device)["signedByOwner"] is False
        bot.stop()

        monkeypatch.setenv(RECOVERY_ENV, recovery_key)
        bot.start()
        signed = js.call("wait_signed", timeout=60, name="dave", user_id=bot_user.user_id, device_id=device)
        assert signed["signedByOwner"] is True
        assert "read the self-signing key" in bot.log() and recovery_key not in bot.log()
        assert stat.S_IMODE((data_dir / KEYS_FILE).stat().st_mode) == 0o600
    finally:
        if bot is not None:
            code = bot.stop()
            assert code == 0, f"bot exited {code} on SIGTERM:\n{bot.log()}"
        js.close()
        shutil.rmtree(tmp_path / "state", ignore_errors=True)
