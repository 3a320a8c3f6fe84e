"""Logging the device in: a configured token, else the saved session, else a password login.

The session (device id and token) is kept in ``data_dir`` so a restart reuses the device instead of
making a new one each time (each new device is one more for every member's client to trust).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from nio import AsyncClient, LoginError, WhoamiError

from bot.config import MatrixConfig, secret_from_env
from bot.matrix.errors import TRANSIENT, MatrixError, Unavailable, described, raise_unless_refused

log = logging.getLogger(__name__)
SESSION_FILE = "matrix-session.json"


def saved_session(path: Path, user_id: str | None) -> dict[str, str] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if isinstance(data, dict) and data.get("user_id") == user_id and data.get("access_token"):
        return {k: str(v) for k, v in data.items()}
    return None


def save_session(path: Path, user_id: str | None, device_id: str, access_token: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"user_id": user_id, "device_id": device_id, "access_token": access_token}, handle)
    tmp.replace(path)


async def log_in(client: AsyncClient, config: MatrixConfig, environ: Mapping[str, str], session_path: Path) -> None:
    """A configured access token wins, then a saved session, then a password login."""
    token = secret_from_env(config.access_token_env, "matrix.access_token_env", environ)
    saved = saved_session(session_path, config.user_id)
    try:
        if token:
            client.access_token = token
            who = await client.whoami()
            if isinstance(who, WhoamiError):
                raise_unless_refused(who, "whoami", config.homeserver)
                env = config.access_token_env
                raise MatrixError(f"the access token in ${env} was refused: {described(who)}")
            client.restore_login(config.user_id or "", who.device_id or "", token)
            return
        if saved:
            client.restore_login(saved["user_id"], saved["device_id"], saved["access_token"])
            who = await client.whoami()
            if not isinstance(who, WhoamiError):
                return
            raise_unless_refused(who, "whoami", config.homeserver)  # a blip keeps the saved device: no new login
            log.warning("saved Matrix session refused (%s); logging in again", described(who))
        password = secret_from_env(config.password_env, "matrix.password_env", environ)
        if not password:
            raise MatrixError("no credentials: set matrix.access_token_env or matrix.password_env")
        resp = await client.login(password=password, device_name=config.device_name)
        if isinstance(resp, LoginError):
            raise_unless_refused(resp, "the login", config.homeserver)
            raise MatrixError(f"login as {config.user_id} failed: {described(resp)}")
        save_session(session_path, config.user_id, resp.device_id, resp.access_token)
    except TRANSIENT as exc:
        raise Unavailable(f"homeserver {config.homeserver} unreachable: {exc}") from exc
