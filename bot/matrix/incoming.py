"""nio's timeline events turned into the bot's own types (:mod:`bot.matrix.events`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nio import MegolmEvent, ReactionEvent, RoomMessageText

from bot.matrix.events import ChatMessage, EncryptedEvent, Reaction


def chat_message(room_id: str, event: RoomMessageText, sender_key_known: Callable[[Any], bool]) -> ChatMessage:
    """``sender_key_known`` is asked only for an event that arrived encrypted (see :mod:`bot.matrix.crypto`)."""
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
        sender_key_known=encrypted and sender_key_known(event),
    )


def encrypted_event(room_id: str, event: MegolmEvent) -> EncryptedEvent:
    source = dict(event.source) if isinstance(event.source, dict) else {}
    return EncryptedEvent(str(event.event_id), room_id, str(event.sender), int(event.server_timestamp), source)


def reaction(room_id: str, event: ReactionEvent, sender_key_known: Callable[[Any], bool]) -> Reaction | None:
    """An annotation (the emoji reactions clients show under a message); None for any other relation."""
    source = event.source if isinstance(event.source, dict) else {}
    relates = (source.get("content") or {}).get("m.relates_to") or {}
    if relates.get("rel_type") != "m.annotation":
        return None
    encrypted = bool(getattr(event, "decrypted", False))
    return Reaction(
        event_id=str(event.event_id),
        room_id=room_id,
        sender=str(event.sender),
        reacts_to=str(event.reacts_to),
        key=str(event.key),
        ts_ms=int(event.server_timestamp),
        encrypted=encrypted,
        sender_key_known=encrypted and sender_key_known(event),
    )
