"""The rooms the bot is in: which configured rooms are joined (and when), joining the rest, invites."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.config import Config
from bot.matrix.client import MatrixError, Unavailable
from bot.matrix.rooms import Rooms
from commands import BotState

log = logging.getLogger(__name__)


class JoinedRooms:
    def __init__(self, config: Config, rooms: Rooms, state: BotState, on_joined: Callable[[], None]) -> None:
        self.config = config
        self.rooms = rooms
        self.state = state
        self.on_joined = on_joined  # reports are held back until a report room was joined
        self.joined: dict[str, str] = {}  # room id → how it was configured (id or alias)
        self.joined_at: dict[str, int] = {}

    def wanted(self) -> list[str]:
        """The configured rooms, then the report rooms, each once."""
        matrix_rooms = self.config.matrix.rooms
        return list(dict.fromkeys((*matrix_rooms, *self.config.reports.report_rooms(matrix_rooms))))

    def missing(self) -> list[str]:
        """Wanted rooms not joined yet (each sync tries them again)."""
        return [r for r in self.wanted() if r not in self.joined.values()]

    def report_rooms(self) -> list[str]:
        """Joined report rooms' ids (reports wait until at least one is joined)."""
        wanted = set(self.config.reports.report_rooms(self.config.matrix.rooms))
        return sorted(room_id for room_id, configured in self.joined.items() if configured in wanted)

    async def join_missing(self) -> None:
        for room in self.missing():
            try:
                room_id = await self.rooms.resolve(room)
                await self.rooms.join(room_id)
                self.joined[room_id] = room
                log.info("joined %s (%s)", room, room_id)
                self.on_joined()
            except (MatrixError, Unavailable) as exc:
                log.error("%s (will try again)", exc)
        self.state.rooms = sorted(self.joined.values())

    async def accept_invites(self, invites: list[str]) -> None:
        for room_id in invites:
            if room_id in self.joined or room_id in self.config.matrix.rooms:
                await self._accept_invite(room_id)
            else:
                log.info("ignoring an invite to %s: not a configured room", room_id)

    async def _accept_invite(self, room_id: str) -> None:
        try:
            await self.rooms.join(room_id)
            self.joined.setdefault(room_id, room_id)
        except (MatrixError, Unavailable) as exc:
            log.warning("could not accept the invite to %s: %s", room_id, exc)
