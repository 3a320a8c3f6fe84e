"""What the bot sees of Matrix, without nio types: messages in, send results out."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ChatMessage:
    event_id: str
    room_id: str
    sender: str
    body: str
    msgtype: str
    ts_ms: int
    thread_root: str | None = None


@dataclass(frozen=True)
class SyncBatch:
    next_batch: str
    messages: list[ChatMessage] = field(default_factory=list)
    encrypted: list[ChatMessage] = field(default_factory=list)
    invites: list[str] = field(default_factory=list)
    own_joins: dict[str, int] = field(default_factory=dict)  # room id → our join event's timestamp (ms)


@dataclass(frozen=True)
class SendResult:
    event_id: str | None
    error: str | None
    transient: bool = False
    retry_after_ms: int | None = None
