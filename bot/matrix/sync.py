"""One sync: nio's response turned into a :class:`SyncBatch`, with a limited timeline's gap back-filled
so no command is skipped while the bot was down or busy."""

from __future__ import annotations

import logging
from typing import Any

from nio import (
    AsyncClient,
    MegolmEvent,
    ReactionEvent,
    RoomMemberEvent,
    RoomMessagesError,
    RoomMessageText,
    SyncError,
)

from bot.matrix.crypto import Crypto
from bot.matrix.errors import TRANSIENT, MatrixError, Unavailable
from bot.matrix.events import ChatMessage, EncryptedEvent, Reaction, SyncBatch
from bot.matrix.incoming import chat_message, encrypted_event, reaction

log = logging.getLogger(__name__)
# Sync only what the bot reads: timelines of joined rooms, no presence, lazily loaded members.
SYNC_FILTER: dict[str, Any] = {
    "presence": {"types": []},
    "account_data": {"types": []},
    "room": {
        "timeline": {"limit": 50},
        "state": {"lazy_load_members": True},
        "ephemeral": {"types": []},
        "account_data": {"types": []},
    },
}
GAP_PAGES, GAP_PAGE_SIZE = 20, 100


class Syncer:
    def __init__(self, client: AsyncClient, crypto: Crypto) -> None:
        self.client = client
        self.crypto = crypto
        self._state_loaded = False

    async def sync(self, since: str | None, timeout_ms: int) -> SyncBatch:
        try:
            # The first sync after a start carries the rooms' full state: nio keeps no room state across
            # restarts, and sending needs it (is the room encrypted, who is in it).
            full_state = not self._state_loaded
            resp = await self.client.sync(
                timeout=0 if full_state else timeout_ms, since=since, sync_filter=SYNC_FILTER, full_state=full_state
            )
        except TRANSIENT as exc:
            raise Unavailable(f"sync failed: {exc}") from exc
        if isinstance(resp, SyncError):
            if resp.status_code in ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN", "M_FORBIDDEN"):
                raise MatrixError(f"sync refused: {resp.message}")
            raise Unavailable(f"sync error: {resp}")
        self._state_loaded = True
        await self.crypto.keys_maintenance()
        messages: list[ChatMessage] = []
        encrypted: list[EncryptedEvent] = []
        reactions: list[Reaction] = []
        joins: dict[str, int] = {}
        for room_id, info in resp.rooms.join.items():
            events = list(info.timeline.events)
            if info.timeline.limited and since is not None:
                # More happened than one sync carries (the bot was down, or busy): fetch the gap.
                events = await self._gap(room_id, info.timeline.prev_batch, since) + events
            for event in events:
                if (
                    isinstance(event, RoomMemberEvent)
                    and event.state_key == str(self.client.user_id)
                    and event.membership == "join"
                ):
                    joins[room_id] = int(event.server_timestamp)
                elif isinstance(event, MegolmEvent):  # nio decrypts what it can during sync; this it could not
                    encrypted.append(encrypted_event(room_id, event))
                elif isinstance(event, RoomMessageText):
                    # m.notice arrives as RoomMessageNotice and is never read: bots don't answer bots.
                    messages.append(chat_message(room_id, event, self.crypto.sender_key_known))
                elif isinstance(event, ReactionEvent):
                    found = reaction(room_id, event, self.crypto.sender_key_known)
                    if found is not None:
                        reactions.append(found)
        return SyncBatch(
            next_batch=str(resp.next_batch),
            messages=messages,
            encrypted=encrypted,
            invites=list(resp.rooms.invite),
            own_joins=joins,
            reactions=reactions,
        )

    async def _gap(self, room_id: str, prev_batch: str | None, since: str) -> list[Any]:
        """Events between the last sync and this limited timeline, oldest first (bounded)."""
        older: list[Any] = []
        start = prev_batch
        for _ in range(GAP_PAGES):
            if not start:
                break
            try:
                resp = await self.client.room_messages(room_id, start=start, end=since, limit=GAP_PAGE_SIZE)
            except TRANSIENT as exc:
                raise Unavailable(f"fetching missed messages failed: {exc}") from exc
            if isinstance(resp, RoomMessagesError) or not resp.chunk:
                break
            older.extend(resp.chunk)
            if resp.end == start:
                break
            start = resp.end
        else:
            log.warning(
                "more than %d missed events in %s; the oldest are not answered", GAP_PAGES * GAP_PAGE_SIZE, room_id
            )
        return list(reversed(older))
