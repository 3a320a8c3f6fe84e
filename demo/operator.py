"""A scripted Matrix user (a real nio client): the demo's operator, and the tests' too.

Waiting is for a condition (an event in the room), bounded by a deadline: the operator long-polls
/sync, so nothing sleeps in place of synchronisation. Given a store directory it is an E2EE client
(nio + vodozemac, trusting devices on first use), so it can talk to the bot in an encrypted room;
events it decrypted are recorded decrypted, with ``"encrypted": True``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from nio import AsyncClient, AsyncClientConfig, MegolmEvent, RoomCreateResponse, RoomSendResponse

from demo.crosscheck import signed_by_owner
from demo.devserver.synapse import MatrixUser

Event = dict[str, Any]
# A person scrolling back sees everything: never let a limited timeline hide events from the checks.
OPERATOR_FILTER: dict[str, Any] = {"room": {"timeline": {"limit": 1000}}}


@dataclass
class Operator:
    """A person in the ops room, typing commands with a real Matrix client."""

    user: MatrixUser
    url: str
    client: AsyncClient = field(init=False)
    since: str | None = None
    seen: list[Event] = field(default_factory=list)
    store_path: Path | None = None  # set: an E2EE client keeping its olm account there

    def __post_init__(self) -> None:
        e2ee = self.store_path is not None
        if self.store_path is not None:
            self.store_path.mkdir(parents=True, exist_ok=True)
        self.client = AsyncClient(
            self.url,
            self.user.user_id,
            store_path=str(self.store_path) if e2ee else "",
            config=AsyncClientConfig(encryption_enabled=e2ee, store_sync_tokens=False),
        )
        self.client.restore_login(self.user.user_id, self.user.device_id or "TEST", self.user.access_token)

    async def _keys(self) -> None:
        """Publish this device's keys and learn the members' (an E2EE client does this after every sync)."""
        if self.client.olm is None:
            return
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        if self.client.should_query_keys:
            await self.client.keys_query()

    async def close(self) -> None:
        await self.client.close()

    async def create_room(self, alias: str, invite: list[str], encrypted: bool = False) -> str:
        state = [{"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}]
        await self._keys()  # published before anyone joins: the bot encrypts for the devices it knows
        resp = await self.client.room_create(
            alias=alias, invite=invite, name=alias, initial_state=state if encrypted else ()
        )
        assert isinstance(resp, RoomCreateResponse), resp
        return str(resp.room_id)

    async def join(self, room: str) -> None:
        await self.client.join(room)

    async def say(self, room_id: str, body: str, thread_root: str | None = None, msgtype: str = "m.text") -> str:
        content: dict[str, Any] = {"msgtype": msgtype, "body": body}
        if thread_root:
            content["m.relates_to"] = {"rel_type": "m.thread", "event_id": thread_root}
        if self.client.olm is not None and room_id not in self.client.rooms:
            await self._sync(0)  # nio encrypts only for rooms whose state it has
        resp = await self.client.room_send(room_id, "m.room.message", content, ignore_unverified_devices=True)
        assert isinstance(resp, RoomSendResponse), resp
        return str(resp.event_id)

    async def devices_signed_by_owner(self, user_id: str) -> dict[str, bool]:
        """Each of ``user_id``'s E2EE devices and whether its owner's cross-signing keys sign it, as this
        client sees them on the homeserver (nio keeps no cross-signing keys, so /keys/query is asked here)."""
        url = f"{self.url.rstrip('/')}/_matrix/client/v3/keys/query"
        headers = {"Authorization": f"Bearer {self.user.access_token}"}
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http,
            http.post(url, json={"device_keys": {user_id: []}}, headers=headers) as resp,
        ):
            resp.raise_for_status()
            query: dict[str, Any] = await resp.json()
        devices = (query.get("device_keys") or {}).get(user_id) or {}
        return {str(device): signed_by_owner(query, user_id, str(device)) for device in devices}

    async def catch_up(self) -> None:
        """Skip everything already in the rooms, so waits only look at what comes next."""
        await self._sync(0)

    async def _sync(self, timeout_ms: int) -> list[Event]:
        resp = await self.client.sync(
            timeout=timeout_ms, since=self.since, full_state=self.since is None, sync_filter=OPERATOR_FILTER
        )
        assert hasattr(resp, "next_batch"), resp
        self.since = resp.next_batch
        await self._keys()
        new: list[Event] = []
        for room_id, info in resp.rooms.join.items():
            for event in info.timeline.events:
                source = dict(event.source)  # nio replaced what it could decrypt with the decrypted event
                source["room_id"] = room_id
                if getattr(event, "decrypted", False):
                    source["encrypted"] = True
                elif isinstance(event, MegolmEvent):
                    source["undecryptable"] = True
                new.append(source)
        self.seen.extend(new)
        return new

    async def wait_for(self, match: Callable[[Event], bool], timeout: float = 30.0, count: int = 1) -> list[Event]:
        """Events matching ``match`` seen so far, once there are ``count`` of them (or fail at the deadline)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [e for e in self.seen if match(e)]
            if len(found) >= count:
                return found
            left = deadline - time.monotonic()
            assert left > 0, f"waited {timeout}s for {count} matching event(s); saw {len(found)}"
            await self._sync(int(min(left, 5.0) * 1000))


def reply_to(event_id: str, sender: str) -> Callable[[Event], bool]:
    def match(e: Event) -> bool:
        content = e.get("content") or {}
        relates = content.get("m.relates_to") or {}
        return (
            e.get("type") == "m.room.message"
            and e.get("sender") == sender
            and (relates.get("m.in_reply_to") or {}).get("event_id") == event_id
        )

    return match


def reaction_to(event_id: str, sender: str) -> Callable[[Event], bool]:
    def match(e: Event) -> bool:
        relates = (e.get("content") or {}).get("m.relates_to") or {}
        return e.get("type") == "m.reaction" and e.get("sender") == sender and relates.get("event_id") == event_id

    return match


def joined(user_id: str) -> Callable[[Event], bool]:
    def match(e: Event) -> bool:
        return (
            e.get("type") == "m.room.member"
            and e.get("state_key") == user_id
            and (e.get("content") or {}).get("membership") == "join"
        )

    return match


def message_from(sender: str, prefix: str, room_id: str | None = None) -> Callable[[Event], bool]:
    """A message (not an edit of one) from ``sender`` whose body starts with ``prefix``."""

    def match(e: Event) -> bool:
        content = e.get("content") or {}
        relates = content.get("m.relates_to") or {}
        return (
            e.get("type") == "m.room.message"
            and e.get("sender") == sender
            and (room_id is None or e.get("room_id") == room_id)
            and relates.get("rel_type") != "m.replace"
            and str(content.get("body", "")).startswith(prefix)
        )

    return match


def in_thread(root: str) -> Callable[[Event], bool]:
    def match(e: Event) -> bool:
        relates = (e.get("content") or {}).get("m.relates_to") or {}
        return relates.get("rel_type") == "m.thread" and relates.get("event_id") == root

    return match


def edit_of(sender: str, event_id: str) -> Callable[[Event], bool]:
    def match(e: Event) -> bool:
        relates = (e.get("content") or {}).get("m.relates_to") or {}
        return (
            e.get("sender") == sender and relates.get("rel_type") == "m.replace" and relates.get("event_id") == event_id
        )

    return match
