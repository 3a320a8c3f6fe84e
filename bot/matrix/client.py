"""The Matrix connection: the only module that imports matrix-nio.

It turns nio's responses into the bot's own small types (:mod:`bot.matrix.events`) and nio's
failures into two exceptions the bot can act on: :class:`Unavailable` (retry with backoff) and
:class:`MatrixError` (a refusal that retrying will not fix).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinError,
    LoginError,
    MegolmEvent,
    RoomMemberEvent,
    RoomMessagesError,
    RoomMessageText,
    RoomResolveAliasError,
    RoomSendError,
    SyncError,
    WhoamiError,
)

from bot.config import MatrixConfig, secret_from_env
from bot.matrix.events import ChatMessage, SendResult, SyncBatch

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


class Unavailable(Exception):
    """The homeserver could not be reached or answered 5xx: try again later."""


class MatrixError(Exception):
    """The homeserver refused (bad token, forbidden, unknown room): retrying will not help."""


class MatrixConnection:
    """One logged-in device. Its id and token are kept in ``data_dir`` so a restart reuses the device."""

    def __init__(self, config: MatrixConfig, data_dir: Path, environ: Mapping[str, str] | None = None) -> None:
        assert config.homeserver and config.user_id, "validated by MatrixConfig.missing()"
        self.config = config
        self.environ = os.environ if environ is None else environ
        self.session_path = data_dir / SESSION_FILE
        store_dir = data_dir / "nio-store"  # for E2EE later; unused while rooms are unencrypted
        store_dir.mkdir(parents=True, exist_ok=True)
        self.client = AsyncClient(
            config.homeserver,
            config.user_id,
            store_path=str(store_dir),
            config=AsyncClientConfig(
                max_limit_exceeded=0,  # the outbox honours retry_after_ms itself
                max_timeouts=0,  # connection failures come back to us: we back off with jitter
                request_timeout=config.sync_timeout_s + 30,
                store_sync_tokens=False,
            ),
        )

    @property
    def user_id(self) -> str:
        return str(self.client.user_id)

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
        """Log in: a configured access token wins, then a saved session, then a password login."""
        token = secret_from_env(self.config.access_token_env, "matrix.access_token_env", self.environ)
        saved = self._saved_session()
        try:
            if token:
                self.client.access_token = token
                who = await self.client.whoami()
                if isinstance(who, WhoamiError):
                    raise MatrixError(f"the access token in ${self.config.access_token_env} was refused: {who.message}")
                self.client.restore_login(self.config.user_id or "", who.device_id or "", token)
                return
            if saved:
                self.client.restore_login(saved["user_id"], saved["device_id"], saved["access_token"])
                who = await self.client.whoami()
                if not isinstance(who, WhoamiError):
                    return
                log.warning("saved Matrix session refused (%s); logging in again", who.message)
            password = secret_from_env(self.config.password_env, "matrix.password_env", self.environ)
            if not password:
                raise MatrixError("no credentials: set matrix.access_token_env or matrix.password_env")
            resp = await self.client.login(password=password, device_name=self.config.device_name)
            if isinstance(resp, LoginError):
                raise MatrixError(f"login as {self.config.user_id} failed: {resp.message}")
            self._save_session(resp.device_id, resp.access_token)
        except _TRANSIENT as exc:
            raise Unavailable(f"homeserver {self.config.homeserver} unreachable: {exc}") from exc

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
            resp = await self.client.sync(timeout=timeout_ms, since=since, sync_filter=SYNC_FILTER)
        except _TRANSIENT as exc:
            raise Unavailable(f"sync failed: {exc}") from exc
        if isinstance(resp, SyncError):
            if resp.status_code in ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN", "M_FORBIDDEN"):
                raise MatrixError(f"sync refused: {resp.message}")
            raise Unavailable(f"sync error: {resp}")
        messages: list[ChatMessage] = []
        encrypted: list[ChatMessage] = []
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
                elif isinstance(event, RoomMessageText | MegolmEvent):
                    # m.notice arrives as RoomMessageNotice and is never read: bots don't answer bots.
                    (encrypted if isinstance(event, MegolmEvent) else messages).append(_message(room_id, event))
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

    async def send(self, room_id: str, event_type: str, content: dict[str, Any], txn_id: str) -> SendResult:
        """PUT with a stable transaction id: the homeserver de-duplicates a retried send."""
        try:
            resp = await self.client.room_send(room_id, event_type, content, tx_id=txn_id)
        except _TRANSIENT as exc:
            return SendResult(None, f"unreachable: {exc}", transient=True)
        if isinstance(resp, RoomSendError):
            code = resp.status_code or ""
            transient = (
                code in ("M_LIMIT_EXCEEDED", "M_UNKNOWN")
                or resp.transport_response is None
                or (resp.transport_response.status >= 500)
            )
            return SendResult(None, f"{code} {resp.message}", transient=transient, retry_after_ms=resp.retry_after_ms)
        return SendResult(str(resp.event_id), None)


def _message(room_id: str, event: RoomMessageText | MegolmEvent) -> ChatMessage:
    source = event.source if isinstance(event.source, dict) else {}
    content = source.get("content") or {}
    if isinstance(event, MegolmEvent):
        msgtype, body = "m.encrypted", ""
    else:
        msgtype, body = str(content.get("msgtype", "m.text")), str(event.body)
    relates = content.get("m.relates_to") or {}
    thread = relates.get("event_id") if relates.get("rel_type") == "m.thread" else None
    return ChatMessage(
        event_id=str(event.event_id),
        room_id=room_id,
        sender=str(event.sender),
        body=body,
        msgtype=msgtype,
        ts_ms=int(event.server_timestamp),
        thread_root=str(thread) if thread else None,
    )
