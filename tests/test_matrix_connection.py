"""The Matrix layer against a real Synapse: the sync-gap back-fill, and the outbox's backoff and refusals.

These drive the bot's own MatrixConnection and OutboxSender directly (no bot process), so each test
controls exactly what the homeserver sees: a burst bigger than one sync, a room the bot may not post to,
a homeserver that goes away and comes back.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.backoff import Backoff
from bot.chat.outbox import OutboxSender
from bot.config import MatrixConfig
from bot.matrix.client import MatrixConnection
from bot.matrix.sync import SYNC_FILTER
from bot.store import Store
from bot.store.chat import Outgoing
from demo.devserver.synapse import LocalSynapse, MatrixUser
from tests import rawdb

pytestmark = [pytest.mark.slow, pytest.mark.synapse]
TOKEN_ENV = "CCCI_TEST_BOT_TOKEN"


def connection(server: LocalSynapse, bot: MatrixUser, data_dir: Path) -> MatrixConnection:
    config = MatrixConfig(
        homeserver=server.url, user_id=bot.user_id, access_token_env=TOKEN_ENV, rooms=("!unused:localhost",)
    )
    return MatrixConnection(config, data_dir, environ={TOKEN_ENV: bot.access_token})


def room_with(server: LocalSynapse, owner: MatrixUser, *invited: MatrixUser) -> str:
    room = server.api(
        "POST", "/_matrix/client/v3/createRoom", token=owner.access_token, body={"preset": "private_chat"}
    )
    room_id = str(room["room_id"])
    for user in invited:
        server.api(
            "POST",
            f"/_matrix/client/v3/rooms/{room_id}/invite",
            token=owner.access_token,
            body={"user_id": user.user_id},
        )
    return room_id


def say(server: LocalSynapse, user: MatrixUser, room_id: str, body: str) -> None:
    server.api(
        "PUT",
        f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/{uuid.uuid4().hex}",
        token=user.access_token,
        body={"msgtype": "m.text", "body": body},
    )


def bodies_in(server: LocalSynapse, user: MatrixUser, room_id: str) -> list[str]:
    """Message bodies in the room, oldest first, as the given member reads them."""
    reply = server.api("GET", f"/_matrix/client/v3/rooms/{room_id}/messages?dir=b&limit=100", token=user.access_token)
    chunk: list[dict[str, Any]] = reply["chunk"]
    return [str(e["content"].get("body")) for e in reversed(chunk) if e["type"] == "m.room.message"]


def unique(name: str) -> str:
    return f"{name}{uuid.uuid4().hex[:8]}"


@pytest.fixture
def people(synapse: LocalSynapse) -> tuple[MatrixUser, MatrixUser]:
    return synapse.register(unique("bot")), synapse.register(unique("op"))


def test_a_sync_gap_bigger_than_one_timeline_is_back_filled_in_order(
    synapse: LocalSynapse, people: tuple[MatrixUser, MatrixUser], tmp_path: Path
) -> None:
    bot, operator = people
    room_id = room_with(synapse, operator, bot)
    burst = 3 * SYNC_FILTER["room"]["timeline"]["limit"]  # the sync's timeline is limited: the rest is a gap

    async def scenario() -> list[str]:
        conn = connection(synapse, bot, tmp_path)
        try:
            await conn.connect()
            await conn.rooms.join(room_id)
            since = (await conn.sync(None, 0)).next_batch
            for i in range(burst):
                say(synapse, operator, room_id, f"!ccci why r{i}")
            batch = await conn.sync(since, 0)
            return [m.body for m in batch.messages if m.room_id == room_id]
        finally:
            await conn.close()

    assert asyncio.run(scenario()) == [f"!ccci why r{i}" for i in range(burst)]


def test_a_refused_message_is_recorded_and_the_queue_moves_on(
    synapse: LocalSynapse, people: tuple[MatrixUser, MatrixUser], tmp_path: Path
) -> None:
    bot, operator = people
    joined = room_with(synapse, operator, bot)
    not_joined = room_with(synapse, operator)  # the bot may not post here: M_FORBIDDEN, for good
    store = Store(tmp_path / "bot.sqlite3")
    chat = store.chat

    async def scenario() -> float | None:
        conn = connection(synapse, bot, tmp_path)
        try:
            await conn.connect()
            await conn.rooms.join(joined)
            await conn.sync(None, 0)
            chat.enqueue(
                [
                    Outgoing(not_joined, "m.room.message", {"msgtype": "m.notice", "body": "refused"}),
                    Outgoing(joined, "m.room.message", {"msgtype": "m.notice", "body": "delivered"}),
                ]
            )
            sender = OutboxSender(chat, conn.send, Backoff(0.01, 0.02), asyncio.Event())
            return await sender.flush()
        finally:
            await conn.close()

    try:
        assert asyncio.run(scenario()) is None  # no pause: a refusal is not retried
        assert chat.pending_count() == 0
        rows = rawdb.rows(
            store, "SELECT json_extract(content_json, '$.body'), event_id, attempts, last_error FROM outbox ORDER BY id"
        )
        refused, delivered = rows
        assert refused[0] == "refused" and refused[1] == "" and refused[2] == 1 and "M_FORBIDDEN" in refused[3]
        assert delivered[0] == "delivered" and str(delivered[1]).startswith("$") and delivered[2] == 0
        assert bodies_in(synapse, operator, joined)[-1] == "delivered"
    finally:
        store.close()


@pytest.fixture
def own_synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSynapse]:
    """A homeserver of this test's own, which it takes down and brings back."""
    with LocalSynapse(tmp_path_factory.mktemp("outage")) as server:
        yield server


def test_an_outage_backs_off_keeps_the_message_and_delivers_it_when_the_homeserver_is_back(
    own_synapse: LocalSynapse, tmp_path: Path
) -> None:
    bot, operator = own_synapse.register("bot"), own_synapse.register("op")
    room_id = room_with(own_synapse, operator, bot)
    store = Store(tmp_path / "bot.sqlite3")
    chat = store.chat
    backoff = Backoff(0.25, 4.0)

    async def scenario() -> tuple[float | None, int, float | None, float | None]:
        conn = connection(own_synapse, bot, tmp_path)
        try:
            await conn.connect()
            await conn.rooms.join(room_id)
            await conn.sync(None, 0)
            chat.enqueue([Outgoing(room_id, "m.room.message", {"msgtype": "m.notice", "body": "after the outage"})])
            sender = OutboxSender(chat, conn.send, backoff, asyncio.Event())
            await asyncio.to_thread(own_synapse.stop)
            first = await sender.flush()
            second = await sender.flush()
            kept = chat.pending_count()
            await asyncio.to_thread(own_synapse.start)
            return first, kept, second, await sender.flush()
        finally:
            await conn.close()

    try:
        first, kept, second, after = asyncio.run(scenario())
        assert first == 0.25  # the first failure waits the minimum
        assert second is not None and 0.25 <= second <= 0.5  # the next may wait up to twice as long
        assert kept == 1  # nothing is dropped while the homeserver is away
        assert after is None and chat.pending_count() == 0
        assert backoff.failures == 0  # a delivery resets the backoff
        attempts, error = rawdb.rows(store, "SELECT attempts, last_error FROM outbox")[0]
        assert attempts == 2 and "unreachable" in error
        assert bodies_in(own_synapse, operator, room_id)[-1] == "after the outage"
    finally:
        store.close()
