"""The floor for the round-trip benchmark: a bare matrix-nio bot that answers `!echo …` with an
m.notice reply and does nothing else. Same library, same homeserver, no ccci-bot code.

    python benchmarks/echo_bot.py HOMESERVER USER_ID DEVICE_ID ACCESS_TOKEN
"""

from __future__ import annotations

import asyncio
import sys

from nio import AsyncClient, MatrixRoom, RoomMessageText


async def main(homeserver: str, user_id: str, device_id: str, token: str) -> None:
    client = AsyncClient(homeserver, user_id)
    client.restore_login(user_id, device_id, token)
    await client.sync(timeout=0)  # skip history, as any bot must

    async def on_message(room: MatrixRoom, event: RoomMessageText) -> None:
        if event.sender == user_id or not event.body.startswith("!echo"):
            return
        await client.room_send(
            room.room_id,
            "m.room.message",
            {
                "msgtype": "m.notice",
                "body": event.body,
                "m.relates_to": {"m.in_reply_to": {"event_id": event.event_id}},
            },
        )

    client.add_event_callback(on_message, RoomMessageText)  # type: ignore[arg-type]
    for invite in list(client.invited_rooms):
        await client.join(invite)
    await client.sync_forever(timeout=30000)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
