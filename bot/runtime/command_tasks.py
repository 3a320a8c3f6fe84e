"""Commands, each its own task: started from the inbox in the order they were sent, with flood control.

A command is marked handled in the same transaction that queues its answer (:mod:`bot.store.chat`);
what a crash or a stop leaves in the inbox is resumed on start, so nothing is skipped or doubled.
A slow command never holds up another: none is awaited in line with the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from html import escape

from bot.chat.dispatch import Dispatcher, parse
from bot.chat.messages import in_thread_of, notice, reaction
from bot.config import Config
from bot.matrix.events import ChatMessage
from bot.store.chat import ChatStore, Outgoing, new_txn_id, ref
from bot.web.metrics import Metrics

log = logging.getLogger(__name__)
ACK_AFTER_S = 1.0


@dataclass(frozen=True)
class InFlight:
    """A command being handled: whose it is (flood control counts per user) and its task."""

    sender: str
    task: asyncio.Task[None]
    counted: bool  # False for a refusal, which does not hold a place


class CommandTasks:
    def __init__(
        self,
        config: Config,
        chat: ChatStore,
        dispatcher: Dispatcher,
        wake_outbox: Callable[[], None],
        metrics: Metrics,
        stop: asyncio.Event,
    ) -> None:
        self.config = config
        self.chat = chat
        self.dispatcher = dispatcher
        self.wake_outbox = wake_outbox
        self.metrics = metrics
        self.stop = stop
        self.in_flight: dict[str, InFlight] = {}  # command event id → its task
        self.told_limit: set[str] = set()  # users told they hit access.max_in_flight (until one ends)

    async def start_recorded(self) -> None:
        """A task for every recorded, unanswered command that has none yet, in the order they were sent."""
        for msg, acked in await asyncio.to_thread(self.chat.unanswered):
            if msg.event_id not in self.in_flight and not self.stop.is_set():
                self._start(msg, acked)

    def _start(self, msg: ChatMessage, acked: bool) -> None:
        limit = self.config.access.max_in_flight
        running = sum(1 for f in self.in_flight.values() if f.sender == msg.sender and f.counted)
        if running >= limit:
            tell = msg.sender not in self.told_limit
            self.told_limit.add(msg.sender)
            coro, counted = self._refuse(msg, limit, tell), False
        else:
            coro, counted = self._command(msg, acked), True
        task = asyncio.create_task(coro, name=f"command {msg.event_id}")
        self.in_flight[msg.event_id] = InFlight(msg.sender, task, counted)
        task.add_done_callback(partial(self._command_ended, msg.event_id))

    def _command_ended(self, event_id: str, task: asyncio.Task[None]) -> None:
        ended = self.in_flight.pop(event_id)
        running = sum(1 for f in self.in_flight.values() if f.sender == ended.sender and f.counted)
        if running < self.config.access.max_in_flight:  # room again: a next refusal is explained again
            self.told_limit.discard(ended.sender)
        if not task.cancelled() and task.exception() is not None:
            # Not the handler (the dispatcher answers for it): storing the answer failed. It stays
            # in the inbox and is tried again after the next sync.
            log.error("command %s could not be answered", event_id, exc_info=task.exception())

    async def stop_commands(self) -> None:
        """Cancel the commands in flight and wait for them; they stay in the inbox and are resumed on start."""
        commands = [f.task for f in self.in_flight.values()]
        for task in commands:
            task.cancel()
        await asyncio.gather(*commands, return_exceptions=True)

    async def _command(self, msg: ChatMessage, acked: bool) -> None:
        parsed = parse(msg.body, self.config.matrix.command_prefix)
        if parsed is None:  # recorded as a command, so it parsed then; nothing to answer now
            await asyncio.to_thread(self.chat.handle, msg.event_id, msg.room_id, msg.sender, "-", [])
            return
        task = asyncio.create_task(self.dispatcher.answer(msg, parsed))
        try:
            done, _ = await asyncio.wait({task}, timeout=ACK_AFTER_S)
            if not done and not acked:  # slow: say we are on it (its answer is queued after this)
                out = [Outgoing(msg.room_id, "m.reaction", reaction(msg))]
                await asyncio.to_thread(self.chat.ack, msg.event_id, out)
                self.wake_outbox()
            reply = await task
        finally:
            task.cancel()  # no-op when done; on shutdown the handler stops with this task
        txn = new_txn_id()
        out = [Outgoing(msg.room_id, "m.room.message", dict(reply.content), txn)]
        if reply.thread is not None:  # the details: one message in the reply's thread
            out.append(Outgoing(msg.room_id, "m.room.message", in_thread_of(dict(reply.thread), ref(txn), msg)))
        if await asyncio.to_thread(self.chat.handle, msg.event_id, msg.room_id, msg.sender, reply.command, out):
            self.metrics.command(reply.command)
        self.wake_outbox()

    async def _refuse(self, msg: ChatMessage, limit: int, tell: bool) -> None:
        """Flood control: over the limit, the command is handled without running; the first is told why."""
        parsed = parse(msg.body, self.config.matrix.command_prefix)
        name = parsed.name[:40] if parsed else "?"
        text = (
            f"Sorry, you already have {limit} commands running, so `{name}` was not run, nor will any more "
            "of yours be until one of them is answered. Ask again then."
        )
        log.warning("%s has %d commands in flight; refusing %s (%s)", msg.sender, limit, name, msg.event_id)
        out = [Outgoing(msg.room_id, "m.room.message", notice(text, escape(text), msg))] if tell else []
        await asyncio.to_thread(self.chat.handle, msg.event_id, msg.room_id, msg.sender, "refused", out)
        self.wake_outbox()
