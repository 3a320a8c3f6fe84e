"""The Matrix connection: the only module that imports matrix-nio.

It turns nio's responses into the bot's own small types (:mod:`bot.matrix.events`) and nio's
failures into two exceptions the bot can act on: :class:`Unavailable` (retry with backoff) and
:class:`MatrixError` (a refusal that retrying will not fix).

End-to-end encryption (``matrix.e2ee``, on by default) is nio's olm machine on vodozemac, its
store under ``data_dir/nio-store``. The policy lives here: room keys go to the current devices of
the room's members on first use (TOFU); a device whose keys change later keeps its first keys and
is reported (:class:`KeyChange`); a message is encrypted only once every member's device keys are
known and olm sessions exist, otherwise :meth:`send` reports a transient failure and the outbox
retries — an encrypted room never gets a message in clear.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
from nio import (
    Api,
    AsyncClient,
    AsyncClientConfig,
    EncryptionError,
    ErrorResponse,
    JoinedMembersError,
    JoinError,
    KeysClaimError,
    KeysQueryError,
    KeysQueryResponse,
    KeysUploadError,
    LocalProtocolError,
    LoginError,
    MegolmEvent,
    RoomGetStateEventError,
    RoomMemberEvent,
    RoomMessagesError,
    RoomMessageText,
    RoomResolveAliasError,
    RoomSendError,
    RoomSendResponse,
    SyncError,
    WhoamiError,
)
from nio.crypto import ENCRYPTION_ENABLED
from nio.exceptions import GroupEncryptionError, OlmTrustError

from bot.config import MatrixConfig, secret_from_env
from bot.matrix.events import ChatMessage, EncryptedEvent, KeyChange, SendResult, SyncBatch

log = logging.getLogger(__name__)
SESSION_FILE = "matrix-session.json"
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
_TRANSIENT = (aiohttp.ClientError, TimeoutError, ConnectionError, OSError)
# A member device with no olm session after claiming (it published no one-time or fallback key) holds
# messages back this long; after that they go out and that device cannot read them (logged).
CLAIM_WAIT_S = 300.0


# Error codes that refuse the credentials or the account themselves: retrying cannot help.
REFUSALS = frozenset({"M_UNKNOWN_TOKEN", "M_MISSING_TOKEN", "M_FORBIDDEN", "M_USER_DEACTIVATED"})


class Unavailable(Exception):
    """The homeserver could not be reached or answered 5xx: try again later."""


class MatrixError(Exception):
    """The homeserver refused (bad token, forbidden, unknown room): retrying will not help."""


def _status(resp: ErrorResponse) -> int | None:
    transport = getattr(resp, "transport_response", None)
    return int(transport.status) if transport is not None else None


def _transient(resp: ErrorResponse) -> bool:
    """An error answer to retry: 5xx or 429 (the homeserver, or a proxy in front of it, having a bad
    moment) — never a 401/403 or an error code that refuses the credentials."""
    status = _status(resp)
    if resp.status_code in REFUSALS or status in (401, 403):
        return False
    return status is None or status >= 500 or status == 429


def _described(resp: ErrorResponse) -> str:
    return " ".join(str(p) for p in (_status(resp), resp.status_code, resp.message) if p)


class MatrixConnection:
    """One logged-in device. Its id and token are kept in ``data_dir`` so a restart reuses the device."""

    def __init__(self, config: MatrixConfig, data_dir: Path, environ: Mapping[str, str] | None = None) -> None:
        assert config.homeserver and config.user_id, "validated by MatrixConfig.missing()"
        self.config = config
        self.environ = os.environ if environ is None else environ
        self.session_path = data_dir / SESSION_FILE
        self.e2ee = config.e2ee and bool(ENCRYPTION_ENABLED)
        if config.e2ee and not ENCRYPTION_ENABLED:
            log.error("matrix.e2ee is on but nio has no crypto (pip install 'matrix-nio[e2e]'); E2EE is off")
        store_dir = data_dir / "nio-store"  # nio's olm account, sessions and device keys (sqlite)
        store_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        store_dir.chmod(0o700)
        self.key_changes: list[KeyChange] = []
        self._state_loaded = False
        self._unclaimed_since: dict[str, float] = {}  # room id → when its members' sessions were first missing
        self.client = AsyncClient(
            config.homeserver,
            config.user_id,
            store_path=str(store_dir),
            config=AsyncClientConfig(
                max_limit_exceeded=0,  # the outbox honours retry_after_ms itself
                max_timeouts=0,  # connection failures come back to us: we back off with jitter
                request_timeout=config.sync_timeout_s + 30,
                store_sync_tokens=False,
                encryption_enabled=self.e2ee,
            ),
        )

    @property
    def user_id(self) -> str:
        return str(self.client.user_id)

    @property
    def device_id(self) -> str:
        return str(self.client.device_id)

    @property
    def access_token(self) -> str:
        return str(self.client.access_token)

    async def close(self) -> None:
        await self.client.close()

    # --- login ---------------------------------------------------------------------------------

    def _saved_session(self) -> dict[str, str] | None:
        try:
            data = json.loads(self.session_path.read_text())
        except (OSError, ValueError):
            return None
        if isinstance(data, dict) and data.get("user_id") == self.config.user_id and data.get("access_token"):
            return {k: str(v) for k, v in data.items()}
        return None

    def _save_session(self, device_id: str, access_token: str) -> None:
        self.session_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.session_path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"user_id": self.config.user_id, "device_id": device_id, "access_token": access_token}, handle)
        tmp.replace(self.session_path)

    async def connect(self) -> None:
        """Log in, then publish the device's keys before joining anything: a member who sees the bot join
        and writes at once encrypts for the bot's device only if its keys are already on the server."""
        await self._login()
        await self.keys_maintenance()

    async def _login(self) -> None:
        """A configured access token wins, then a saved session, then a password login."""
        token = secret_from_env(self.config.access_token_env, "matrix.access_token_env", self.environ)
        saved = self._saved_session()
        try:
            if token:
                self.client.access_token = token
                who = await self.client.whoami()
                if isinstance(who, WhoamiError):
                    self._unless_refused(who, "whoami")
                    env = self.config.access_token_env
                    raise MatrixError(f"the access token in ${env} was refused: {_described(who)}")
                self.client.restore_login(self.config.user_id or "", who.device_id or "", token)
                return
            if saved:
                self.client.restore_login(saved["user_id"], saved["device_id"], saved["access_token"])
                who = await self.client.whoami()
                if not isinstance(who, WhoamiError):
                    return
                self._unless_refused(who, "whoami")  # a blip keeps the saved device: no new login
                log.warning("saved Matrix session refused (%s); logging in again", _described(who))
            password = secret_from_env(self.config.password_env, "matrix.password_env", self.environ)
            if not password:
                raise MatrixError("no credentials: set matrix.access_token_env or matrix.password_env")
            resp = await self.client.login(password=password, device_name=self.config.device_name)
            if isinstance(resp, LoginError):
                self._unless_refused(resp, "the login")
                raise MatrixError(f"login as {self.config.user_id} failed: {_described(resp)}")
            self._save_session(resp.device_id, resp.access_token)
        except _TRANSIENT as exc:
            raise Unavailable(f"homeserver {self.config.homeserver} unreachable: {exc}") from exc

    def _unless_refused(self, resp: ErrorResponse, what: str) -> None:
        """:class:`Unavailable` when the error is the homeserver's (or a proxy's) moment, not a refusal:
        an operator may rotate a good token during a proxy blip, and the bot must not exit for it."""
        if _transient(resp):
            raise Unavailable(
                f"homeserver {self.config.homeserver} answered {what} with {_described(resp) or 'an error'}"
                " (the homeserver or a proxy in front of it, not the credentials)"
            )

    # --- rooms ---------------------------------------------------------------------------------

    async def resolve(self, room: str) -> str:
        if room.startswith("!"):
            return room
        try:
            resp = await self.client.room_resolve_alias(room)
        except _TRANSIENT as exc:
            raise Unavailable(str(exc)) from exc
        if isinstance(resp, RoomResolveAliasError):
            raise MatrixError(f"room alias {room} does not resolve: {resp.message}")
        return str(resp.room_id)

    async def join(self, room_id: str) -> None:
        try:
            resp = await self.client.join(room_id)
        except _TRANSIENT as exc:
            raise Unavailable(str(exc)) from exc
        if isinstance(resp, JoinError):
            raise MatrixError(f"cannot join {room_id}: {resp.message}")

    def is_encrypted(self, room_id: str) -> bool:
        room = self.client.rooms.get(room_id)
        return bool(room and room.encrypted)

    def power_level(self, room_id: str, user_id: str) -> int:
        room = self.client.rooms.get(room_id)
        return int(room.power_levels.get_user_level(user_id)) if room else 0

    def joined_rooms(self) -> list[str]:
        return list(self.client.rooms)

    # --- sync and send ---------------------------------------------------------------------------

    async def sync(self, since: str | None, timeout_ms: int) -> SyncBatch:
        try:
            # The first sync after a start carries the rooms' full state: nio keeps no room state across
            # restarts, and sending needs it (is the room encrypted, who is in it).
            full_state = not self._state_loaded
            resp = await self.client.sync(
                timeout=0 if full_state else timeout_ms, since=since, sync_filter=SYNC_FILTER, full_state=full_state
            )
        except _TRANSIENT as exc:
            raise Unavailable(f"sync failed: {exc}") from exc
        if isinstance(resp, SyncError):
            if resp.status_code in ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN", "M_FORBIDDEN"):
                raise MatrixError(f"sync refused: {resp.message}")
            raise Unavailable(f"sync error: {resp}")
        self._state_loaded = True
        await self.keys_maintenance()
        messages: list[ChatMessage] = []
        encrypted: list[EncryptedEvent] = []
        joins: dict[str, int] = {}
        for room_id, info in resp.rooms.join.items():
            events = list(info.timeline.events)
            if info.timeline.limited and since is not None:
                # More happened than one sync carries (the bot was down, or busy): fetch the gap.
                events = await self._gap(room_id, info.timeline.prev_batch, since) + events
            for event in events:
                if (
                    isinstance(event, RoomMemberEvent)
                    and event.state_key == self.user_id
                    and event.membership == "join"
                ):
                    joins[room_id] = int(event.server_timestamp)
                elif isinstance(event, MegolmEvent):  # nio decrypts what it can during sync; this it could not
                    encrypted.append(_encrypted(room_id, event))
                elif isinstance(event, RoomMessageText):
                    # m.notice arrives as RoomMessageNotice and is never read: bots don't answer bots.
                    messages.append(self._message(room_id, event))
        return SyncBatch(
            next_batch=str(resp.next_batch),
            messages=messages,
            encrypted=encrypted,
            invites=list(resp.rooms.invite),
            own_joins=joins,
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
            except _TRANSIENT as exc:
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

    # --- end-to-end encryption -----------------------------------------------------------------

    async def keys_maintenance(self) -> None:
        """Upload our one-time keys when the server runs low, and query the device keys of members."""
        if not self.e2ee:
            return
        try:
            if self.client.should_upload_keys:
                up = await self.client.keys_upload()
                if isinstance(up, KeysUploadError):
                    log.warning("uploading the device's one-time keys failed: %s", up.message)
            if self.client.should_query_keys:
                await self._keys_query()
        except _TRANSIENT as exc:
            raise Unavailable(f"key upload/query failed: {exc}") from exc
        except LocalProtocolError as exc:  # the outbox did it a moment ago, concurrently: nothing left to do
            log.debug("key upload/query skipped: %s", exc)

    async def _keys_query(self) -> None:
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

    def decrypt(self, room_id: str, source: dict[str, Any]) -> ChatMessage | None:
        """Try again to decrypt an event kept from an earlier sync (its room key may have arrived)."""
        if not self.e2ee:
            return None
        event = MegolmEvent.from_dict(source)
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
        return self._message(room_id, decrypted) if isinstance(decrypted, RoomMessageText) else None

    async def request_key(self, room_id: str, source: dict[str, Any]) -> None:
        """Ask the sender's devices for a missing room key (best effort; most clients answer own devices only)."""
        event = MegolmEvent.from_dict(source)
        if not self.e2ee or not isinstance(event, MegolmEvent):
            return
        event.room_id = room_id
        try:
            await self.client.request_room_key(event)
        except (LocalProtocolError, *_TRANSIENT) as exc:
            log.debug("room key request for %s not sent: %s", event.event_id, exc)

    def _sender_key_known(self, event: Any) -> bool:
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

    def _message(self, room_id: str, event: RoomMessageText) -> ChatMessage:
        source = event.source if isinstance(event.source, dict) else {}
        content = source.get("content") or {}
        if getattr(event, "decrypted", False):
            event.room_id = room_id
        relates = content.get("m.relates_to") or {}
        thread = relates.get("event_id") if relates.get("rel_type") == "m.thread" else None
        encrypted = bool(getattr(event, "decrypted", False))
        return ChatMessage(
            event_id=str(event.event_id),
            room_id=room_id,
            sender=str(event.sender),
            body=str(event.body),
            msgtype=str(content.get("msgtype", "m.text")),
            ts_ms=int(event.server_timestamp),
            thread_root=str(thread) if thread else None,
            encrypted=encrypted,
            sender_key_known=encrypted and self._sender_key_known(event),
        )

    async def _ready_to_encrypt(self, room_id: str) -> str | None:
        """Why a message to this encrypted room cannot be encrypted yet, or None when it can."""
        room = self.client.rooms[room_id]
        if not room.members_synced:
            members = await self.client.joined_members(room_id)
            if isinstance(members, JoinedMembersError):
                return f"the room's member list could not be loaded: {members.message}"
        if self.client.should_query_keys:
            await self._keys_query()
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
            if self.e2ee:
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
        except _TRANSIENT as exc:
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


def _encrypted(room_id: str, event: MegolmEvent) -> EncryptedEvent:
    source = dict(event.source) if isinstance(event.source, dict) else {}
    return EncryptedEvent(str(event.event_id), room_id, str(event.sender), int(event.server_timestamp), source)
