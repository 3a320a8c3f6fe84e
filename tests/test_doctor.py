"""`ccci-bot doctor` as a process against a real local Synapse: every check passes on a good config,
and a room the bot cannot enter, an unreachable homeserver or a bad config each fail with the reason."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytest.importorskip("synapse", reason="matrix-synapse is not installed (pip install -e '.[test]')")

from demo.devserver.synapse import LocalSynapse, free_port
from tests.service_world import World, make_world

pytestmark = [pytest.mark.slow, pytest.mark.synapse]


def doctor(world: World, *extra: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "doctor", "--config", str(config or world.config_path), *extra],
        capture_output=True,
        text=True,
        env=world.environ(),
        timeout=120,
    )


def checks(proc: subprocess.CompletedProcess[str]) -> dict[str, dict[str, str]]:
    data = json.loads(proc.stdout)
    return {c["name"]: c for c in data["checks"]}


@pytest.fixture(scope="module")
def world(synapse: LocalSynapse, tmp_path_factory: pytest.TempPathFactory) -> World:
    return make_world(synapse, tmp_path_factory.mktemp("doctor"))


def test_good_config_passes_every_check_and_changes_nothing(world: World) -> None:
    before = sorted(p.relative_to(world.home) for p in world.home.rglob("*"))
    devices_before = world.synapse.api("GET", "/_matrix/client/v3/devices", token=world.bot.access_token)["devices"]
    proc = doctor(world)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[-1] == "all checks pass"
    assert all(line.startswith("✓ ") for line in lines[:-1]), proc.stdout
    names = [line[2:].split(": ", 1)[0] for line in lines[:-1]]
    for expected in (
        "config",
        "ccci.runs_dir",
        "data_dir",
        "store",
        "homeserver",
        "login",
        f"room {world.alias}",
        "E2EE / cross-signing",
        "docker",
        "probes",
        "runner.steps[1]",
        "web.listen",
        "webhook",
        "red report",
    ):
        assert expected in names, proc.stdout
    assert f"whoami is {world.bot.user_id}" in proc.stdout
    # Nothing was created: no store, no session file; the doctor's own login device is gone again.
    assert sorted(p.relative_to(world.home) for p in world.home.rglob("*")) == before
    devices_after = world.synapse.api("GET", "/_matrix/client/v3/devices", token=world.bot.access_token)["devices"]
    assert {d["device_id"] for d in devices_after} == {d["device_id"] for d in devices_before}


def test_json_shape(world: World) -> None:
    proc = doctor(world, "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    assert data["ok"] is True
    assert data["checks"], data
    for check in data["checks"]:
        assert set(check) == {"name", "outcome", "detail", "fix"}
        assert check["outcome"] == "pass"
        assert check["fix"] == ""


def test_room_without_membership_or_invite_is_named(world: World) -> None:
    tag = free_port()
    stranger = world.create_room(f"svc-closed-{tag}")  # the bot is neither in it nor invited
    invited = world.create_room(f"svc-invited-{tag}", invite_bot=True)
    config = yaml.safe_load(world.config_path.read_text())
    config["matrix"]["rooms"] = [world.alias, stranger, invited]
    path = world.home / "stranger.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = doctor(world, "--json", config=path)
    assert proc.returncode == 1
    found = checks(proc)
    assert found[f"room {stranger}"]["outcome"] == "fail"
    assert world.bot.user_id in found[f"room {stranger}"]["detail"]
    assert found[f"room {stranger}"]["fix"] == f"invite {world.bot.user_id} to {stranger}"
    assert found[f"room {invited}"]["outcome"] == "pass"
    assert "invited" in found[f"room {invited}"]["detail"]
    assert found[f"room {world.alias}"]["outcome"] == "pass"
    text = doctor(world, config=path)
    assert f"✗ room {stranger}: {world.bot.user_id} is not in {stranger} and has no invite" in text.stdout
    assert text.stdout.splitlines()[-1] == "1 check(s) failed"


def test_unreachable_homeserver_fails_and_later_matrix_checks_skip(world: World) -> None:
    config = yaml.safe_load(world.config_path.read_text())
    config["matrix"]["homeserver"] = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    path = world.home / "unreachable.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = doctor(world, "--json", config=path)
    assert proc.returncode == 1
    found = checks(proc)
    assert found["homeserver"]["outcome"] == "fail"
    assert "unreachable" in found["homeserver"]["detail"]
    assert found["homeserver"]["fix"]
    assert found["login"]["outcome"] == "skip"
    assert found["config"]["outcome"] == "pass"  # the rest still ran


def test_invalid_config_and_missing_dirs(world: World) -> None:
    config = yaml.safe_load(world.config_path.read_text())
    config["ccci"]["runs_dir"] = str(world.home / "no-such-runs")
    config["runner"]["steps"] = [["no-such-runner-binary-xyz"]]
    path = world.home / "missing.yaml"
    path.write_text(yaml.safe_dump(config))
    found = checks(doctor(world, "--json", config=path))
    assert found["ccci.runs_dir"]["outcome"] == "fail"
    assert "does not exist" in found["ccci.runs_dir"]["detail"]
    assert found["runner.steps[1]"]["outcome"] == "fail"
    bad = world.home / "bad.yaml"
    bad.write_text("matrix: {rooms: nope}\n")
    proc = doctor(world, config=bad)
    assert proc.returncode == 1
    assert proc.stdout.startswith("✗ config: ")
    assert "matrix.rooms" in proc.stdout


def test_encrypted_room_is_reported_against_what_this_build_supports(world: World) -> None:
    from urllib.parse import quote

    from bot.config import MatrixConfig

    body = {
        "room_alias_name": f"svc-e2ee-{free_port()}",
        "preset": "private_chat",
        "invite": [world.bot.user_id],
        "initial_state": [
            {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}
        ],
    }
    room = str(
        world.synapse.api("POST", "/_matrix/client/v3/createRoom", token=world.alice.access_token, body=body)["room_id"]
    )
    world.synapse.api("POST", f"/_matrix/client/v3/join/{quote(room, safe='')}", token=world.bot.access_token, body={})
    config = yaml.safe_load(world.config_path.read_text())
    config["matrix"]["rooms"] = [world.alias, room]
    path = world.home / "encrypted.yaml"
    path.write_text(yaml.safe_dump(config))
    found = checks(doctor(world, "--json", config=path))
    check = found["E2EE / cross-signing"]
    assert room in check["detail"]
    if hasattr(MatrixConfig(), "e2ee"):  # a build with E2EE (issue 11): on by default
        assert check["outcome"] == "pass"
    else:
        assert check["outcome"] == "fail"
        assert "not supported by this build" in check["detail"]


def test_after_the_bot_ran_its_device_is_cross_signed(world: World) -> None:
    """Once the bot has started (and, with a password, made its cross-signing keys), the doctor checks
    the bot's own device — from its saved session — against the account's self-signing key."""
    from tests.matrix_harness import BotProcess
    from tests.test_sdnotify import Listener

    name = f"@ccci-test-doctor-{free_port()}"
    listener = Listener(b"\0" + name[1:].encode())
    bot = BotProcess(
        world.config_path, world.bot.password, world.home / "bot.log", env={**world.environ(), "NOTIFY_SOCKET": name}
    )
    bot.start()
    try:
        try:
            listener.until("READY", 90)
        except TimeoutError:
            raise AssertionError(f"no READY=1:\n{bot.log()}") from None
    finally:
        assert bot.stop() == 0
        listener.close()
    found = checks(doctor(world, "--json"))
    check = found["E2EE / cross-signing"]
    assert check["outcome"] == "pass", check
    assert "is cross-signed" in check["detail"]
    assert found["login"]["detail"].endswith("(the bot's saved session)")
