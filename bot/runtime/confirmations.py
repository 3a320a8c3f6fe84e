"""👍 on a `learn` proposal: an operator's confirmation teaches the signature.

A reaction counts when it is a 👍 (any skin tone), in a room the bot serves, on a message the bot
sent with a proposal in it (:mod:`bot.chat.proposals`: read from the outbox's record, not from the
event), from an operator as `rerun` needs one (access.operators or the power level; in an encrypted
room, from a device whose keys the bot knows). Anyone else's 👍 gets a short refusal. Each reaction is
answered once: its event id is marked handled in the same transaction that queues the answer, like a
command's. Every check of `learn` runs again before the file is written, so a 👍 on an old proposal
teaches only what still holds. Each confirmation is its own task, with the work in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import partial
from html import escape

from bot.chat.dispatch import may_act
from bot.chat.messages import notice
from bot.chat.proposals import proposal_in
from bot.config import Config
from bot.matrix.events import ChatMessage, Reaction
from bot.model.learn import LearnRequest
from bot.render import to_chat
from bot.service import Service
from bot.store.chat import ChatStore, Outgoing

log = logging.getLogger(__name__)
CONFIRM = "👍"
HANDLED_AS = "learn-confirm"


def is_confirmation(reaction: Reaction) -> bool:
    return reaction.key.startswith(CONFIRM)


class Confirmations:
    def __init__(
        self,
        config: Config,
        service: Service,
        chat: ChatStore,
        power_level: Callable[[str, str], int],
        wake_outbox: Callable[[], None],
    ) -> None:
        self.config = config
        self.service = service
        self.chat = chat
        self.power_level = power_level
        self.wake_outbox = wake_outbox
        self.in_flight: dict[str, asyncio.Task[None]] = {}

    def start(self, reactions: list[Reaction]) -> None:
        for r in reactions:
            if is_confirmation(r) and r.event_id not in self.in_flight:
                task = asyncio.create_task(self._confirm(r), name=f"confirmation {r.event_id}")
                self.in_flight[r.event_id] = task
                task.add_done_callback(partial(self._ended, r.event_id))

    def _ended(self, event_id: str, task: asyncio.Task[None]) -> None:
        self.in_flight.pop(event_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("confirmation %s could not be answered", event_id, exc_info=task.exception())

    async def stop(self) -> None:
        tasks = list(self.in_flight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _confirm(self, r: Reaction) -> None:
        if await asyncio.to_thread(self.chat.is_handled, r.event_id):
            return
        content = await asyncio.to_thread(self.chat.sent_content, r.room_id, r.reacts_to)
        request = proposal_in(content)
        if request is None:  # a 👍 on anything else is just a 👍
            return
        proposal = _proposal_message(r, content or {})
        body, html = await self._answer(r, request)
        out = [Outgoing(r.room_id, "m.room.message", notice(body, html, proposal))]
        await asyncio.to_thread(self.chat.handle, r.event_id, r.room_id, r.sender, HANDLED_AS, out)
        self.wake_outbox()

    async def _answer(self, r: Reaction, request: LearnRequest) -> tuple[str, str]:
        level = self.power_level(r.room_id, r.sender)
        if not may_act(self.config.access, r.sender, level):
            text = (
                f"Sorry, {r.sender}: a 👍 teaches the knowledge base only from an operator (access.operators, or "
                f"power level ≥ {self.config.access.min_power_level} here; yours is {level}). Nothing was written."
            )
            return text, escape(text)
        if r.encrypted and not r.sender_key_known:
            text = "Sorry: that 👍 came from a device whose keys I do not know, so I cannot tell it is yours."
            return text, escape(text)
        try:
            answer = await self.service.knowledge.learn(request, r.sender, apply=True)
        except Exception:  # an answer is owed even when teaching breaks; the log has the traceback
            log.exception("teaching %s for %s failed", request.pattern, r.sender)
            text = "Sorry, teaching that signature failed inside the bot; the error is in its log."
            return text, escape(text)
        chat = to_chat(answer, self.config.matrix.command_prefix)
        return chat.body, chat.html


def _proposal_message(r: Reaction, content: dict[str, object]) -> ChatMessage:
    """The proposal as the message the answer replies to (in its thread, if it was in one)."""
    relates = content.get("m.relates_to")
    thread = relates.get("event_id") if isinstance(relates, dict) and relates.get("rel_type") == "m.thread" else None
    return ChatMessage(r.reacts_to, r.room_id, "", "", "m.notice", r.ts_ms, str(thread) if thread else None)
