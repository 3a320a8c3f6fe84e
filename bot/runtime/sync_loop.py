"""The sync loop: each batch's commands go into the inbox before the sync token moves past them.

Then every recorded command gets its task (:mod:`bot.runtime.command_tasks`), so a crash between the
two resumes them on start instead of losing them. An unreachable homeserver is retried with backoff
and jitter; a refusal stops the bot (a supervisor restarts it, and the log says why).
"""

from __future__ import annotations

import asyncio
import logging
import time

from bot.backoff import Backoff, sleep_unless
from bot.chat.dispatch import parse
from bot.config import Config
from bot.matrix.client import MatrixConnection, MatrixError, Unavailable
from bot.matrix.events import ChatMessage, Reaction, SyncBatch
from bot.runtime.command_tasks import CommandTasks
from bot.runtime.confirmations import Confirmations
from bot.runtime.cross_signing import CrossSigning
from bot.runtime.rooms import JoinedRooms
from bot.runtime.sdnotify import Notifier
from bot.runtime.undecryptable import Undecryptable
from bot.store import Store
from bot.store.chat import ChatStore
from bot.web.metrics import Metrics
from commands import BotState

log = logging.getLogger(__name__)
SINCE_KEY = "matrix.since"


class SyncLoop:
    def __init__(
        self,
        config: Config,
        conn: MatrixConnection,
        store: Store,
        chat: ChatStore,
        rooms: JoinedRooms,
        commands: CommandTasks,
        undecryptable: Undecryptable,
        cross_signing: CrossSigning,
        *,
        state: BotState,
        metrics: Metrics,
        notifier: Notifier,
        backoff: Backoff,
        stop: asyncio.Event,
        confirmations: Confirmations | None = None,
    ) -> None:
        self.config = config
        self.conn = conn
        self.store = store
        self.chat = chat
        self.rooms = rooms
        self.commands = commands
        self.undecryptable = undecryptable
        self.cross_signing = cross_signing
        self.state = state
        self.metrics = metrics
        self.notifier = notifier
        self.backoff = backoff
        self.stop = stop
        self.confirmations = confirmations
        self.synced = asyncio.Event()  # set after each completed sync: lets tests and the demo wait on it
        self.ready = False  # READY=1 sent (after the first sync)

    async def run(self) -> None:
        since = await asyncio.to_thread(self.store.meta.get, SINCE_KEY)
        first = since is None
        timeout_ms = int(self.config.matrix.sync_timeout_s * 1000)
        while not self.stop.is_set():
            if self.rooms.missing():
                await self.rooms.join_missing()
            try:
                batch = await self.conn.sync(since, 0 if first else timeout_ms)
            except Unavailable as exc:
                self.metrics.sync_error()
                self.state.last_sync_error = str(exc)
                delay = self.backoff.next_delay()
                log.warning("%s; retrying in %.1f s", exc, delay)
                self.notifier.status(f"sync failing, retrying in {delay:.0f} s: {exc}")
                if await sleep_unless(self.stop, delay):
                    return
                continue
            except MatrixError as exc:
                self.metrics.sync_error()
                log.error("%s; stopping", exc)
                self.state.last_sync_error = str(exc)
                self.stop.set()
                return
            self.backoff.reset()
            recovered = self.state.last_sync_error is not None
            self.state.last_sync, self.state.last_sync_error = time.time(), None
            self.rooms.joined_at.update(batch.own_joins)
            if self.conn.e2ee and self.cross_signing.outcome is None:
                await self.cross_signing.ensure()  # after the first sync: nio has uploaded the device's keys by then
            # A fresh bot's first sync is history: answer only what was sent after it started.
            await self._record(batch, not_before_ms=int(self.state.started_at * 1000) if first else 0)
            since, first = batch.next_batch, False
            await asyncio.to_thread(self.store.meta.set, SINCE_KEY, since)
            await self.commands.start_recorded()  # after a restart, this resumes what the last process left
            if not self.ready or recovered:
                self._tell_ready()
            self.synced.set()
            self.synced.clear()

    def _tell_ready(self) -> None:
        """READY=1 after login, the first sync and the room joins (a room that could not be joined is
        named in STATUS and retried; it does not hold the service in "activating" forever). Sent
        again with a fresh STATUS when syncing recovers; READY=1 twice is harmless."""
        self.ready = True
        missing = self.rooms.missing()
        status = f"ready: {len(self.rooms.joined)} room(s) joined"
        if missing:
            status += f"; not joined yet (retrying): {', '.join(missing)}"
        self.notifier.ready(status)
        log.info("%s", status)

    async def _record(self, batch: SyncBatch, not_before_ms: int) -> None:
        """Invites, the encryption warning, and the batch's commands into the inbox (before the token moves)."""
        await self.rooms.accept_invites(batch.invites)
        late: list[ChatMessage] = []
        if self.conn.e2ee:
            late = await self.undecryptable.retry(batch, not_before_ms)
        else:
            await self.undecryptable.warn(batch)
        commands = [m for m in batch.messages + late if m.ts_ms >= not_before_ms and self._is_command_for_us(m)]
        if commands:
            await asyncio.to_thread(self.chat.record, commands)
        if self.confirmations is not None:  # 👍 on a `learn` proposal; each its own task
            self.confirmations.start([r for r in batch.reactions if r.ts_ms >= not_before_ms and self._is_for_us(r)])

    def _is_for_us(self, reaction: Reaction) -> bool:
        if reaction.room_id not in self.rooms.joined or reaction.sender == self.conn.user_id:
            return False
        return reaction.ts_ms >= self.rooms.joined_at.get(reaction.room_id, 0)

    def _is_command_for_us(self, msg: ChatMessage) -> bool:
        if msg.room_id not in self.rooms.joined or msg.sender == self.conn.user_id or msg.msgtype != "m.text":
            return False
        if msg.ts_ms < self.rooms.joined_at.get(msg.room_id, 0):
            return False  # sent before the bot joined
        return parse(msg.body, self.config.matrix.command_prefix) is not None
