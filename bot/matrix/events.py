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
    # E2EE: the event arrived encrypted; and it decrypted with a room key whose sender key (curve25519)
    # and signing key (ed25519) are those the bot holds for one of the sender's devices (trust on first use).
    encrypted: bool = False
    sender_key_known: bool = False


@dataclass(frozen=True)
class Reaction:
    """An m.reaction (an m.annotation of another event with ``key``, an emoji): a 👍 confirms `learn`."""

    event_id: str
    room_id: str
    sender: str
    reacts_to: str
    key: str
    ts_ms: int
    encrypted: bool = False
    sender_key_known: bool = False


@dataclass(frozen=True)
class EncryptedEvent:
    """An encrypted event the bot could not decrypt (yet): kept to retry once its room key arrives."""

    event_id: str
    room_id: str
    sender: str
    ts_ms: int
    source: dict[str, object]


@dataclass(frozen=True)
class KeyChange:
    """A device whose keys differ from those first seen (trust on first use keeps the first)."""

    user_id: str
    device_id: str
    first_key: str
    new_key: str
    seen_at: float


@dataclass(frozen=True)
class SyncBatch:
    next_batch: str
    messages: list[ChatMessage] = field(default_factory=list)
    encrypted: list[EncryptedEvent] = field(default_factory=list)  # undecryptable so far
    invites: list[str] = field(default_factory=list)
    own_joins: dict[str, int] = field(default_factory=dict)  # room id → our join event's timestamp (ms)
    reactions: list[Reaction] = field(default_factory=list)


@dataclass(frozen=True)
class SendResult:
    event_id: str | None
    error: str | None
    transient: bool = False
    retry_after_ms: int | None = None
