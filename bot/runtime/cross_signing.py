"""The bot's device cross-signed once per start (after the first sync), and the E2EE line `status` shows."""

from __future__ import annotations

import logging

from bot.config import Config
from bot.matrix.client import MatrixConnection
from bot.matrix.crosssign import CrossSignError, CrossSignUnavailable, Session, ensure_cross_signed

log = logging.getLogger(__name__)


class CrossSigning:
    def __init__(self, config: Config, conn: MatrixConnection) -> None:
        self.config = config
        self.conn = conn
        self.outcome: str | None = None  # None: not tried yet this start

    async def ensure(self) -> None:
        """Sign the bot's device with its account's self-signing key (made here, or read with the recovery key)."""
        m = self.config.matrix
        assert m.homeserver
        try:
            # The environment the device logged in with (the process's, or the one a demo or test gave the
            # connection). Unset variables are a state to report here (how to fix it), not a config error.
            env = self.conn.environ
            password = env.get(m.password_env) if m.password_env else None
            recovery = env.get(m.recovery_key_env) if m.recovery_key_env else None
            session = Session(m.homeserver, self.conn.user_id, self.conn.device_id, self.conn.access_token)
            outcome = await ensure_cross_signed(session, self.config.data_dir, password, recovery)
        except CrossSignUnavailable as exc:
            log.warning("cross-signing deferred to the next sync: %s", exc)
            return
        except CrossSignError as exc:
            log.error("device %s is not cross-signed: %s", self.conn.device_id, exc)
            self.outcome = f"device {self.conn.device_id} not cross-signed ({exc})"
            return
        log.info("device %s: %s", self.conn.device_id, outcome)
        self.outcome = f"device {self.conn.device_id} {outcome}"

    def e2ee_status(self) -> str:
        if not self.conn.e2ee:
            return "E2EE off"
        changes = "; ".join(
            f"device key changed: {c.user_id} {c.device_id} (first {c.first_key[:8]}…, now {c.new_key[:8]}…)"
            for c in self.conn.crypto.key_changes
        )
        return f"E2EE on, {self.outcome or 'cross-signing not checked yet'}" + (f"; {changes}" if changes else "")
