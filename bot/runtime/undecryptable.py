"""Encrypted events the bot cannot read: retried until their room key arrives (E2EE on), or the room
told once that commands there are unseen (E2EE off)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from html import escape

from bot.chat.messages import notice
from bot.config import Config
from bot.matrix.client import MatrixConnection
from bot.matrix.events import ChatMessage, SyncBatch
from bot.runtime.rooms import JoinedRooms
from bot.store import Store
from bot.store.chat import ChatStore, Outgoing
from bot.store.undecrypted import PendingDecrypt

log = logging.getLogger(__name__)
UNDECRYPTED_MAX = 200  # encrypted events kept to retry at once (each is tried after every sync)


class Undecryptable:
    def __init__(
        self,
        config: Config,
        conn: MatrixConnection,
        rooms: JoinedRooms,
        store: Store,
        chat: ChatStore,
        wake_outbox: Callable[[], None],
    ) -> None:
        self.config = config
        self.conn = conn
        self.rooms = rooms
        self.store = store
        self.pending = store.undecrypted
        self.chat = chat
        self.wake_outbox = wake_outbox

    async def retry(self, batch: SyncBatch, not_before_ms: int) -> list[ChatMessage]:
        """Keep what could not be decrypted, retry it after each sync, and say so when a key never comes.

        Returns the messages that decrypted now (their room key arrived since). The pending set is
        kept in the store with the sync token, so a restart keeps retrying instead of forgetting.
        """
        pending = {p.event.event_id: p for p in await asyncio.to_thread(self.pending.all)}
        kept: list[PendingDecrypt] = []
        now = time.time()
        for ev in batch.encrypted:
            if ev.sender == self.conn.user_id or ev.room_id not in self.rooms.joined or ev.event_id in pending:
                continue
            joined_at = self.rooms.joined_at.get(ev.room_id, 0)
            if ev.ts_ms < max(not_before_ms, joined_at) or len(pending) >= UNDECRYPTED_MAX:
                continue
            log.warning(
                "cannot decrypt %s from %s in %s yet (no room key); retrying when it arrives",
                ev.event_id,
                ev.sender,
                ev.room_id,
            )
            pending[ev.event_id] = PendingDecrypt(ev, now)
            kept.append(pending[ev.event_id])
            await self.conn.crypto.request_key(ev)
        decrypted: list[ChatMessage] = []
        given_up: list[ChatMessage] = []
        for event_id, item in pending.items():
            msg = self.conn.crypto.decrypt(item.event)
            if msg is not None:
                log.info("decrypted %s from %s now that its room key arrived", event_id, msg.sender)
                decrypted.append(msg)
            elif now - item.seen_at >= self.config.matrix.undecryptable_notice_s:
                given_up.append(ChatMessage(event_id, item.event.room_id, item.event.sender, "", "m.encrypted", 0))
        for msg in given_up:
            log.error("gave up decrypting %s from %s in %s: no room key arrived", msg.event_id, msg.sender, msg.room_id)
            text = (
                f"{msg.sender}: I could not decrypt this message: its room key never reached my device. "
                "If it was a command for me, please send it again."
            )
            out = [Outgoing(msg.room_id, "m.room.message", notice(text, escape(text), msg))]
            await asyncio.to_thread(self.chat.handle, msg.event_id, msg.room_id, msg.sender, "undecryptable", out)
            self.wake_outbox()
        forget = [m.event_id for m in decrypted + given_up]
        if kept or forget:
            await asyncio.to_thread(self.pending.update, kept, forget)
        return decrypted

    async def warn(self, batch: SyncBatch) -> None:
        """E2EE off: tell each encrypted room once that commands sent there are not seen."""
        encrypted_rooms = {r for r in self.rooms.joined if self.conn.rooms.is_encrypted(r)}
        rooms = {m.room_id for m in batch.encrypted} | encrypted_rooms
        for room_id in rooms:
            key = f"encrypted-warning:{room_id}"
            if await asyncio.to_thread(self.store.meta.get, key):
                continue
            log.warning("room %s is end-to-end encrypted and matrix.e2ee is off: commands there are unseen", room_id)
            text = (
                "This room is end-to-end encrypted, and this ccci-bot runs with encryption turned off "
                "(matrix.e2ee: false). Commands sent here are not seen; use an unencrypted ops room."
            )
            await asyncio.to_thread(self.chat.enqueue, [Outgoing(room_id, "m.room.message", notice(text, text))])
            await asyncio.to_thread(self.store.meta.set, key, "said")
            self.wake_outbox()
