"""Rerun news into the room it was asked in: one status message edited in place, other news as replies."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from html import escape

from bot.chat.messages import edit, notice
from bot.matrix.events import ChatMessage
from bot.model.reruns import NotifyKind
from bot.store.chat import ChatStore, Outgoing, ref
from bot.store.reruns import Rerun
from bot.web.metrics import Metrics

log = logging.getLogger(__name__)


class RerunNotices:
    def __init__(
        self, chat: ChatStore, wake_outbox: Callable[[], None], wake_reports: Callable[[], None], metrics: Metrics
    ) -> None:
        self.chat = chat
        self.wake_outbox = wake_outbox
        self.wake_reports = wake_reports
        self.metrics = metrics
        self.status_messages: dict[int, str] = {}  # rerun id → txn id of its status message (edited in place)

    async def notify(self, rerun: Rerun, kind: NotifyKind, text: str) -> None:
        log.info("rerun %d (%s %s): %s", rerun.id, rerun.recipe, rerun.version, text.splitlines()[0])
        if kind is NotifyKind.FINAL:
            self.wake_reports()  # its outcome may settle a verdict the latest summary shows
            if rerun.result is not None:
                self.metrics.rerun(rerun.result)
        if rerun.room_id is None:
            return
        to = ChatMessage(rerun.event_id or "", rerun.room_id, rerun.requested_by, "", "m.text", 0)
        html = f"<pre><code>{escape(text)}</code></pre>" if kind is NotifyKind.FINAL else escape(text)
        if kind is NotifyKind.PROGRESS and rerun.id in self.status_messages:
            content = edit(ref(self.status_messages[rerun.id]), text, html)  # the outbox fills in its event id
            await asyncio.to_thread(self.chat.enqueue, [Outgoing(rerun.room_id, "m.room.message", content)])
        else:
            content = notice(text, html, to if rerun.event_id else None)
            txn = await asyncio.to_thread(self.chat.enqueue, [Outgoing(rerun.room_id, "m.room.message", content)])
            if kind is NotifyKind.PROGRESS:
                self.status_messages[rerun.id] = txn[0]
        self.wake_outbox()
