"""End-to-end encryption on the receiving side: the device's keys, members' device keys, decrypting.

nio's olm machine (on vodozemac) does the cryptography, its store under ``data_dir/nio-store``; the
policy lives here. A member's device is trusted on first use (TOFU): a device whose keys change later
keeps its first keys and is reported (:class:`KeyChange`). A message counts as from a known device
only if its room key came from one of the sender's devices as the bot knows them, not forwarded.
Sending encrypted is :mod:`bot.matrix.send`'s.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from nio import (
    AsyncClient,
    EncryptionError,
    KeysQueryError,
    KeysQueryResponse,
    KeysUploadError,
    LocalProtocolError,
    MegolmEvent,
    RoomMessageText,
)

from bot.matrix.errors import TRANSIENT, Unavailable
from bot.matrix.events import ChatMessage, EncryptedEvent, KeyChange
from bot.matrix.incoming import chat_message

log = logging.getLogger(__name__)


class Crypto:
    def __init__(self, client: AsyncClient, enabled: bool) -> None:
        self.client = client
        self.enabled = enabled
        self.key_changes: list[KeyChange] = []

    async def keys_maintenance(self) -> None:
        """Upload our one-time keys when the server runs low, and query the device keys of members."""
        if not self.enabled:
            return
        try:
            if self.client.should_upload_keys:
                up = await self.client.keys_upload()
                if isinstance(up, KeysUploadError):
                    log.warning("uploading the device's one-time keys failed: %s", up.message)
            if self.client.should_query_keys:
                await self.query_keys()
        except TRANSIENT as exc:
            raise Unavailable(f"key upload/query failed: {exc}") from exc
        except LocalProtocolError as exc:  # the outbox did it a moment ago, concurrently: nothing left to do
            log.debug("key upload/query skipped: %s", exc)

    async def query_keys(self) -> None:
        resp = await self.client.keys_query()
        if isinstance(resp, KeysQueryError):
            log.warning("querying device keys failed: %s", resp.message)
        elif isinstance(resp, KeysQueryResponse):
            self._note_key_changes(resp.device_keys)

    def _note_key_changes(self, device_keys: dict[str, dict[str, Any]]) -> None:
        """nio keeps a device's first ed25519 key and ignores a changed one: record and log the change."""
        olm = self.client.olm
        if olm is None:
            return
        for user_id, devices in device_keys.items():
            for device_id, payload in devices.items():
                new_key = str((payload.get("keys") or {}).get(f"ed25519:{device_id}", ""))
                known = olm.device_store[user_id].get(device_id) if user_id in olm.device_store.users else None
                if known is None or not new_key or known.ed25519 == new_key:
                    continue
                if any(
                    c.user_id == user_id and c.device_id == device_id and c.new_key == new_key for c in self.key_changes
                ):
                    continue
                log.warning(
                    "device %s of %s changed its signing key (first seen %s, now %s): keeping the first; "
                    "its messages are not trusted for commands that act",
                    device_id,
                    user_id,
                    known.ed25519,
                    new_key,
                )
                self.key_changes.append(KeyChange(user_id, device_id, known.ed25519, new_key, time.time()))

    def decrypt(self, kept: EncryptedEvent) -> ChatMessage | None:
        """Try again to decrypt an event kept from an earlier sync (its room key may have arrived)."""
        room_id = kept.room_id
        if not self.enabled or not kept.source:
            return None
        event = MegolmEvent.from_dict(kept.source)
        if not isinstance(event, MegolmEvent):
            return None
        event.room_id = room_id
        olm = self.client.olm
        if olm is None or olm.inbound_group_store.get(room_id, event.sender_key, event.session_id) is None:
            return None  # its room key has not arrived: nothing to try (and nio would log each try)
        try:
            decrypted = self.client.decrypt_event(event)
        except (EncryptionError, LocalProtocolError):
            return None
        if not isinstance(decrypted, RoomMessageText):
            return None
        return chat_message(room_id, decrypted, self.sender_key_known)

    async def request_key(self, kept: EncryptedEvent) -> None:
        """Ask the sender's devices for a missing room key (best effort; most clients answer own devices only)."""
        event = MegolmEvent.from_dict(kept.source)
        if not self.enabled or not isinstance(event, MegolmEvent):
            return
        event.room_id = kept.room_id
        try:
            await self.client.request_room_key(event)
        except (LocalProtocolError, *TRANSIENT) as exc:
            log.debug("room key request for %s not sent: %s", event.event_id, exc)

    def sender_key_known(self, event: Any) -> bool:
        """The room key came from one of the sender's devices as the bot knows them (TOFU), not forwarded."""
        olm = self.client.olm
        sender_key, session_id = getattr(event, "sender_key", None), getattr(event, "session_id", None)
        if olm is None or not sender_key or not session_id or event.sender not in olm.device_store.users:
            return False
        session = olm.inbound_group_store.get(event.room_id, sender_key, session_id)
        if session is None or session.forwarding_chain:
            return False
        return any(
            d.curve25519 == sender_key and d.ed25519 == session.ed25519 and not d.deleted
            for d in olm.device_store[event.sender].values()
        )
