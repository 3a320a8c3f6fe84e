"""The bot's cross-signing at start against a real Synapse, driven through its own CrossSigning part.

The secrets come from the environment the connection was given (the demo and tests hand the bot a
mapping; in production it is the process's): before, the password reached the login but not the
cross-signing, so the demo's fresh account stayed not cross-signed. Both outcomes are checked here:
a password makes and uploads the keys; no password leaves an ERROR line and a status saying how to fix it.
Element's view of the bootstrapped device is checked in tests/test_e2ee_matrix.py.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest
from msgspec.structs import replace

from bot.config import Config, MatrixConfig
from bot.matrix.client import MatrixConnection
from bot.matrix.crosssign import KEYS_FILE, Session, cross_signing_status
from bot.runtime.cross_signing import CrossSigning
from demo.devserver.synapse import LocalSynapse

pytestmark = [pytest.mark.slow, pytest.mark.synapse]
PASSWORD_ENV = "CCCI_TEST_XS_PASSWORD"
TOKEN_ENV = "CCCI_TEST_XS_TOKEN"


def bot_config(synapse: LocalSynapse, user_id: str, data_dir: Path, **matrix: str) -> Config:
    return replace(
        Config(),
        matrix=MatrixConfig(homeserver=synapse.url, user_id=user_id, rooms=("!unused:localhost",), **matrix),
        data_dir=data_dir,
    )


async def start(config: Config, environ: dict[str, str]) -> tuple[CrossSigning, MatrixConnection, Session]:
    """Log in and publish the device keys, then cross-sign as the bot does after its first sync."""
    conn = MatrixConnection(config.matrix, config.data_dir, environ=environ)
    await conn.connect()
    signing = CrossSigning(config, conn)
    await signing.ensure()
    assert config.matrix.homeserver
    return signing, conn, Session(config.matrix.homeserver, conn.user_id, conn.device_id, conn.access_token)


def test_the_password_given_to_the_connection_makes_the_keys_and_signs_the_device(
    synapse: LocalSynapse, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    user = synapse.register("xs-fresh-bot", "xs-fresh-password")
    assert PASSWORD_ENV not in os.environ  # only the connection's environment carries it
    config = bot_config(synapse, user.user_id, tmp_path / "state", password_env=PASSWORD_ENV)

    async def scenario() -> None:
        signing, conn, session = await start(config, {PASSWORD_ENV: user.password})
        try:
            assert signing.e2ee_status() == (
                f"E2EE on, device {conn.device_id} cross-signed (new cross-signing keys made and uploaded)"
            )
            assert await cross_signing_status(session) == (True, f"device {conn.device_id} is cross-signed")
        finally:
            await conn.close()
        # A restart: the same device, the kept keys, nothing made again.
        again, conn, _ = await start(config, {PASSWORD_ENV: user.password})
        try:
            assert again.e2ee_status() == f"E2EE on, device {conn.device_id} cross-signed (already)"
        finally:
            await conn.close()

    with caplog.at_level(logging.INFO):
        asyncio.run(scenario())
    assert (tmp_path / "state" / KEYS_FILE).is_file()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert user.password not in caplog.text


def test_a_fresh_account_without_a_password_is_logged_and_shown_as_not_cross_signed(
    synapse: LocalSynapse, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Logged in with a token and no password: the bot cannot make keys, and says which setting would."""
    user = synapse.register("xs-token-bot", "xs-token-password")
    config = bot_config(synapse, user.user_id, tmp_path / "state", access_token_env=TOKEN_ENV)

    async def scenario() -> tuple[str, str]:
        signing, conn, session = await start(config, {TOKEN_ENV: user.access_token})
        try:
            ok, said = await cross_signing_status(session)
            assert not ok and "no cross-signing keys" in said
            return signing.e2ee_status(), conn.device_id
        finally:
            await conn.close()

    with caplog.at_level(logging.INFO):
        status, device = asyncio.run(scenario())
    assert status.startswith(f"E2EE on, device {device} not cross-signed (the account has no cross-signing keys;")
    assert "matrix.password_env" in status and "matrix.recovery_key_env" in status
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].startswith(f"device {device} is not cross-signed: ")
    assert not (tmp_path / "state" / KEYS_FILE).exists()
