"""Rooms as the homeserver and nio's synced state know them: resolve an alias, join, and read a
room's encryption and power levels (what the dispatcher's rights check needs)."""

from __future__ import annotations

from nio import AsyncClient, JoinError, RoomResolveAliasError

from bot.matrix.errors import TRANSIENT, MatrixError, Unavailable


class Rooms:
    def __init__(self, client: AsyncClient) -> None:
        self.client = client

    async def resolve(self, room: str) -> str:
        if room.startswith("!"):
            return room
        try:
            resp = await self.client.room_resolve_alias(room)
        except TRANSIENT as exc:
            raise Unavailable(str(exc)) from exc
        if isinstance(resp, RoomResolveAliasError):
            raise MatrixError(f"room alias {room} does not resolve: {resp.message}")
        return str(resp.room_id)

    async def join(self, room_id: str) -> None:
        try:
            resp = await self.client.join(room_id)
        except TRANSIENT as exc:
            raise Unavailable(str(exc)) from exc
        if isinstance(resp, JoinError):
            raise MatrixError(f"cannot join {room_id}: {resp.message}")

    def is_encrypted(self, room_id: str) -> bool:
        room = self.client.rooms.get(room_id)
        return bool(room and room.encrypted)

    def power_level(self, room_id: str, user_id: str) -> int:
        room = self.client.rooms.get(room_id)
        return int(room.power_levels.get_user_level(user_id)) if room else 0
