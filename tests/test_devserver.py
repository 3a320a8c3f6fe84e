"""The local Synapse really starts, registers users, serves the client API, restarts and stops cleanly.

No mocks: every test talks to a real Synapse on 127.0.0.1, because the point of demo.devserver is to be a
faithful stand-in for the homeserver the bot will run against.
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.devserver.process import free_port
from demo.devserver.synapse import LocalSynapse, SynapseError

pytestmark = [
    pytest.mark.skipif(
        importlib.util.find_spec("synapse") is None,
        reason="matrix-synapse is not installed in this environment (pip install matrix-synapse)",
    ),
    pytest.mark.slow,
    pytest.mark.synapse,
]

REPO = Path(__file__).resolve().parent.parent


def assert_gone(pid: int) -> None:
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # nothing left in Synapse's process group either


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSynapse]:
    with LocalSynapse(tmp_path_factory.mktemp("synapse")) as synapse:
        yield synapse


def test_registered_users_are_who_they_say(server: LocalSynapse) -> None:
    admin = server.register("admin1", admin=True)
    bob = server.register("bob1", password="bobs-pw")

    assert admin.user_id == "@admin1:localhost"
    assert bob.user_id == "@bob1:localhost"
    assert bob.password == "bobs-pw"
    assert bob.device_id
    for user in (admin, bob):
        request = urllib.request.Request(
            server.url + "/_matrix/client/v3/account/whoami",
            headers={"Authorization": f"Bearer {user.access_token}"},
        )
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=10) as response:
            assert b'"user_id":"' + user.user_id.encode() + b'"' in response.read()
    assert server.api("GET", f"/_synapse/admin/v2/users/{bob.user_id}", token=admin.access_token)["admin"] is False


def test_room_message_round_trip(server: LocalSynapse) -> None:
    alice = server.register("alice2")
    bob = server.register("bob2")
    room = server.api("POST", "/_matrix/client/v3/createRoom", token=alice.access_token, body={"invite": [bob.user_id]})
    room_path = "/_matrix/client/v3/rooms/" + urllib.parse.quote(room["room_id"], safe="")

    server.api("POST", room_path + "/join", token=bob.access_token, body={})
    for n in range(20):  # more than Synapse's default message burst (10): the relaxed limits are in effect
        server.api(
            "PUT",
            f"{room_path}/send/m.room.message/txn{n}",
            token=bob.access_token,
            body={"msgtype": "m.text", "body": f"!status {n}"},
        )

    messages = server.api("GET", room_path + "/messages?dir=b&limit=50", token=alice.access_token)["chunk"]
    bodies = [event["content"]["body"] for event in messages if event["type"] == "m.room.message"]
    assert bodies == [f"!status {n}" for n in reversed(range(20))]


def test_api_errors_carry_the_status(server: LocalSynapse) -> None:
    with pytest.raises(SynapseError) as caught:
        server.api("GET", "/_matrix/client/v3/account/whoami", token="not-a-token")
    assert caught.value.status == 401
    assert "M_UNKNOWN_TOKEN" in str(caught.value)


def test_restart_keeps_url_database_and_tokens_and_stop_leaves_nothing(tmp_path: Path) -> None:
    synapse = LocalSynapse(tmp_path)
    url = synapse.url
    synapse.start()
    try:
        user = synapse.register("carol")
        first_pid = synapse.pid
        synapse.restart()
        assert synapse.url == url
        assert synapse.pid != first_pid
        assert synapse.api("GET", "/_matrix/client/v3/account/whoami", token=user.access_token)["user_id"] == (
            user.user_id
        )
        pid = synapse.pid
        assert pid is not None
    finally:
        synapse.stop()
    assert synapse.pid is None
    assert_gone(pid)
    synapse.stop()  # idempotent

    again = LocalSynapse(tmp_path)  # a later run on the same workdir reuses its URL
    assert again.url == url


def test_default_rate_limits_mode_starts(tmp_path: Path) -> None:
    with LocalSynapse(tmp_path, relaxed_rate_limits=False) as synapse:
        assert "rc_message" not in (tmp_path / "homeserver.yaml").read_text()
        assert synapse.register("dave").user_id == "@dave:localhost"


def test_start_fails_fast_with_the_log_when_synapse_dies(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        synapse = LocalSynapse(tmp_path, port=taken.getsockname()[1])
        with pytest.raises(SynapseError, match="exited with code") as caught:
            synapse.start(timeout=30)
    assert "Log tail" in str(caught.value)
    assert synapse.pid is None


def test_cli_prints_the_url_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    cli = subprocess.Popen(
        [sys.executable, "-m", "demo.devserver.synapse", str(tmp_path), "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert cli.stdout is not None
    assert cli.stderr is not None
    synapse_pid = None
    try:
        assert cli.stdout.readline().strip() == f"http://127.0.0.1:{port}"
        banner = cli.stderr.readline()
        found = re.search(r"Synapse pid (\d+)", banner)
        assert found, banner
        synapse_pid = int(found.group(1))
        assert LocalSynapse(tmp_path).api("GET", "/_matrix/client/versions")["versions"]
    finally:
        cli.send_signal(signal.SIGTERM)  # even on failure: the CLI, not a SIGKILL, must stop Synapse
        returncode = cli.wait(timeout=60)
    assert returncode == 0, cli.stderr.read()
    assert synapse_pid is not None
    assert_gone(synapse_pid)
