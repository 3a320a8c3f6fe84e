"""Sending: a PUT with a stable transaction id, encrypted wherever the room is.

A message to an encrypted room is encrypted only once every member's device keys are known and olm
sessions exist; until then :meth:`Sender.send` reports a transient failure and the outbox retries —
an encrypted room never gets a message in clear. Room keys go to the members' current devices on
first use (TOFU, see :mod:`bot.matrix.crypto`).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from nio import (
    Api,
    AsyncClient,
    EncryptionError,
    JoinedMembersError,
    KeysClaimError,
    LocalProtocolError,
    RoomGetStateEventError,
    RoomSendError,
    RoomSendResponse,
)
from nio.exceptions import GroupEncryptionError, OlmTrustError

from bot.matrix.crypto import Crypto
from bot.matrix.errors import TRANSIENT
from bot.matrix.events import SendResult

log = logging.getLogger(__name__)
# A member device with no olm session after claiming (it published no one-time or fallback key) holds
# messages back this long; after that they go out and that device cannot read them (logged).
CLAIM_WAIT_S = 300.0


class Sender:
    def __init__(self, client: AsyncClient, crypto: Crypto) -> None:
        self.client = client
        self.crypto = crypto
        self._unclaimed_since: dict[str, float] = {}  # room id → when its members' sessions were first missing

    async def _ready_to_encrypt(self, room_id: str) -> str | None:
        """Why a message to this encrypted room cannot be encrypted yet, or None when it can."""
        room = self.client.rooms[room_id]
        if not room.members_synced:
            members = await self.client.joined_members(room_id)
            if isinstance(members, JoinedMembersError):
                return f"the room's member list could not be loaded: {members.message}"
        if self.client.should_query_keys:
            await self.crypto.query_keys()
            if self.client.should_query_keys:
                return "the members' device keys are not known yet"
        if not self.client.olm or not self.client.olm.should_share_group_session(room_id):
            self._unclaimed_since.pop(room_id, None)
            return None
        missing = self.client.get_missing_sessions(room_id)
        if missing:
            claimed = await self.client.keys_claim(missing)
            if isinstance(claimed, KeysClaimError):
                return f"claiming one-time keys failed: {claimed.message}"
            missing = self.client.get_missing_sessions(room_id)
        if not missing:
            self._unclaimed_since.pop(room_id, None)
            return None
        waited = time.monotonic() - self._unclaimed_since.setdefault(room_id, time.monotonic())
        devices = ", ".join(f"{u} {d}" for u, ds in missing.items() for d in ds)
        if waited < CLAIM_WAIT_S:
            return f"no olm session yet with {devices}"
        log.warning(
            "sending to %s without an olm session for %s (no one-time keys for %.0f s)", room_id, devices, waited
        )
        return None

    async def _send_encrypted(self, room_id: str, event_type: str, content: dict[str, Any], txn_id: str) -> Any:
        """nio's room_send, but waiting for keys first and encrypting reactions too (Element does)."""
        not_ready = await self._ready_to_encrypt(room_id)
        if not_ready:
            return SendResult(None, f"not encrypted yet: {not_ready}", transient=True)
        assert self.client.olm is not None
        if self.client.olm.should_share_group_session(room_id):
            await self.client.share_group_session(room_id, ignore_unverified_devices=True)  # TOFU
        enc_type, enc_content = self.client.encrypt(room_id, event_type, content)
        return await self._send_raw(room_id, enc_type, enc_content, txn_id)

    async def _send_raw(self, room_id: str, event_type: str, content: dict[str, Any], txn_id: str) -> Any:
        """PUT the event as given (nio's room_send insists on a synced room and would encrypt again)."""
        method, path, data = Api.room_send(self.client.access_token, room_id, event_type, content, txn_id)
        return await self.client._send(RoomSendResponse, method, path, data, (room_id,))

    async def _unsynced_room(self, room_id: str) -> SendResult | None:
        """For a room nio has no state of: None if it is plainly unencrypted, else why the message must wait
        (encrypted: the next sync brings its members) or is refused (not a member: M_FORBIDDEN)."""
        resp = await self.client.room_get_state_event(room_id, "m.room.encryption")
        if isinstance(resp, RoomGetStateEventError):
            code, message = resp.status_code, resp.message
        else:  # nio 0.26 hands an error body back as the "content" of a successful answer
            content = resp.content if isinstance(resp.content, dict) else {}
            if "algorithm" in content:
                return SendResult(None, "not encrypted yet: the room's state is not synced", transient=True)
            code, message = content.get("errcode"), content.get("error")
        if code == "M_NOT_FOUND":
            return None
        return SendResult(None, f"{code} {message}", transient=code != "M_FORBIDDEN")

    # --- send ------------------------------------------------------------------------------------

    async def send(self, room_id: str, event_type: str, content: dict[str, Any], txn_id: str) -> SendResult:
        """PUT with a stable transaction id: the homeserver de-duplicates a retried send.

        With E2EE on, a room whose state the bot has not synced yet, or an encrypted room whose keys
        are not all there, is a transient failure: the message waits in the outbox, never goes in clear.
        """
        try:
            if self.crypto.enabled:
                room = self.client.rooms.get(room_id)
                if room is None:  # joined a moment ago, or not a member: ask the server whether it is encrypted
                    unknown = await self._unsynced_room(room_id)
                    if unknown is not None:
                        return unknown
                    resp = await self._send_raw(room_id, event_type, content, txn_id)
                elif room.encrypted:
                    resp = await self._send_encrypted(room_id, event_type, content, txn_id)
                    if isinstance(resp, SendResult):
                        return resp
                else:
                    resp = await self.client.room_send(room_id, event_type, content, tx_id=txn_id)
            else:
                resp = await self.client.room_send(room_id, event_type, content, tx_id=txn_id)
        except TRANSIENT as exc:
            return SendResult(None, f"unreachable: {exc}", transient=True)
        except (EncryptionError, GroupEncryptionError, LocalProtocolError, OlmTrustError) as exc:
            return SendResult(None, f"not encrypted yet: {exc}", transient=True)
        if isinstance(resp, RoomSendError):
            code = resp.status_code or ""
            transient = (
                code in ("M_LIMIT_EXCEEDED", "M_UNKNOWN")
                or resp.transport_response is None
                or (resp.transport_response.status >= 500)
            )
            return SendResult(None, f"{code} {resp.message}", transient=transient, retry_after_ms=resp.retry_after_ms)
        return SendResult(str(resp.event_id), None)
