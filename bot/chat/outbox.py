"""Delivering the outbox: every message was stored with a stable transaction id before sending, so a
crash or an outage only delays it; a resend after a crash is de-duplicated by the homeserver."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.backoff import Backoff, sleep_unless, wait_for_wake
from bot.masking import Masker, mask_content
from bot.matrix.events import SendResult
from bot.store.chat import ChatStore

log = logging.getLogger(__name__)
Send = Callable[[str, str, dict[str, Any], str], Awaitable[SendResult]]


class OutboxSender:
    def __init__(
        self, chat: ChatStore, send: Send, backoff: Backoff, stop: asyncio.Event, masker: Masker | None = None
    ) -> None:
        self.masker = masker or Masker(())
        self.chat = chat
        self.send = send
        self.backoff = backoff
        self.stop = stop
        self.wake = asyncio.Event()

    async def run(self) -> None:
        while not self.stop.is_set():
            self.wake.clear()  # before reading the queue, as every worker loop does (backoff.wait_for_wake)
            delay = await self.flush()
            if delay is not None:
                if await sleep_unless(self.stop, delay):
                    return
                continue
            await wait_for_wake(self.wake, self.stop, timeout=30)

    async def flush(self) -> float | None:
        """Send everything pending, in order. Returns a delay when sending must pause, else None."""
        while not self.stop.is_set():
            pending = await asyncio.to_thread(self.chat.pending)
            if not pending:
                return None
            for message in pending:
                content = await asyncio.to_thread(self.chat.resolve_refs, message.content)
                if content is None:  # an edit of a message the homeserver refused: nothing to edit
                    await asyncio.to_thread(self.chat.mark_sent, message.id, "")
                    continue
                content = mask_content(self.masker, content)  # the last point before anything leaves the bot
                result = await self.send(message.room_id, message.event_type, content, message.txn_id)
                if result.event_id is not None:
                    self.backoff.reset()
                    await asyncio.to_thread(self.chat.mark_sent, message.id, result.event_id)
                    continue
                error = result.error or "unknown error"
                await asyncio.to_thread(self.chat.mark_failed, message.id, error)
                if result.retry_after_ms is not None:
                    log.warning("rate limited by the homeserver; waiting %d ms as it asks", result.retry_after_ms)
                    return result.retry_after_ms / 1000
                if result.transient:
                    delay = self.backoff.next_delay()
                    log.warning("send failed (%s); retrying in %.1f s", error, delay)
                    return delay
                # Refused for good (forbidden, a duplicate reaction): record it and move on, never loop.
                log.error("homeserver refused message %s to %s: %s", message.txn_id, message.room_id, error)
                await asyncio.to_thread(self.chat.mark_sent, message.id, "")
        return None
