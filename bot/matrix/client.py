"""The Matrix connection: one logged-in device, built from parts that each do one job.

``bot/matrix/`` is the only package that imports matrix-nio. Its parts share nio's client (the I/O)
and hand the bot only its own small types (:mod:`bot.matrix.events`) and two exceptions it can act on
(:mod:`bot.matrix.errors`: :class:`Unavailable`, retry with backoff; :class:`MatrixError`, a refusal
retrying will not fix):

- :mod:`bot.matrix.session` logs the device in and keeps its session in ``data_dir``;
- :mod:`bot.matrix.rooms` resolves and joins rooms and reads their encryption and power levels;
- :mod:`bot.matrix.sync` syncs and back-fills a limited timeline's gap;
- :mod:`bot.matrix.crypto` keeps the device's and members' keys and decrypts (E2EE, TOFU);
- :mod:`bot.matrix.send` sends with a stable transaction id, encrypted where the room is.

End-to-end encryption (``matrix.e2ee``, on by default) is nio's olm machine on vodozemac, its
store under ``data_dir/nio-store``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nio import AsyncClient, AsyncClientConfig
from nio.crypto import ENCRYPTION_ENABLED

from bot.config import MatrixConfig
from bot.matrix.crypto import Crypto
from bot.matrix.errors import MatrixError, Unavailable
from bot.matrix.events import SendResult, SyncBatch
from bot.matrix.rooms import Rooms
from bot.matrix.send import Sender
from bot.matrix.session import SESSION_FILE, log_in
from bot.matrix.sync import Syncer

__all__ = ["MatrixConnection", "MatrixError", "Unavailable"]
log = logging.getLogger(__name__)


class MatrixConnection:
    """One logged-in device. Its id and token are kept in ``data_dir`` so a restart reuses the device."""

    def __init__(self, config: MatrixConfig, data_dir: Path, environ: Mapping[str, str] | None = None) -> None:
        assert config.homeserver and config.user_id, "validated by MatrixConfig.missing()"
        self.config = config
        self.environ = os.environ if environ is None else environ
        self.session_path = data_dir / SESSION_FILE
        self.e2ee = config.e2ee and bool(ENCRYPTION_ENABLED)
        if config.e2ee and not ENCRYPTION_ENABLED:
            log.error("matrix.e2ee is on but nio has no crypto (pip install 'matrix-nio[e2e]'); E2EE is off")
        store_dir = data_dir / "nio-store"  # nio's olm account, sessions and device keys (sqlite)
        store_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        store_dir.chmod(0o700)
        self.client = AsyncClient(
            config.homeserver,
            config.user_id,
            store_path=str(store_dir),
            config=AsyncClientConfig(
                max_limit_exceeded=0,  # the outbox honours retry_after_ms itself
                max_timeouts=0,  # connection failures come back to us: we back off with jitter
                request_timeout=config.sync_timeout_s + 30,
                store_sync_tokens=False,
                encryption_enabled=self.e2ee,
            ),
        )
        self.rooms = Rooms(self.client)
        self.crypto = Crypto(self.client, self.e2ee)
        self.syncer = Syncer(self.client, self.crypto)
        self.sender = Sender(self.client, self.crypto)

    @property
    def user_id(self) -> str:
        return str(self.client.user_id)

    @property
    def device_id(self) -> str:
        return str(self.client.device_id)

    @property
    def access_token(self) -> str:
        return str(self.client.access_token)

    async def close(self) -> None:
        await self.client.close()

    async def connect(self) -> None:
        """Log in, then publish the device's keys before joining anything: a member who sees the bot join
        and writes at once encrypts for the bot's device only if its keys are already on the server."""
        await log_in(self.client, self.config, self.environ, self.session_path)
        await self.crypto.keys_maintenance()

    async def sync(self, since: str | None, timeout_ms: int) -> SyncBatch:
        return await self.syncer.sync(since, timeout_ms)

    async def send(self, room_id: str, event_type: str, content: dict[str, Any], txn_id: str) -> SendResult:
        return await self.sender.send(room_id, event_type, content, txn_id)
