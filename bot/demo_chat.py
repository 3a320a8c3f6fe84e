"""The demo's chat part: a local Synapse, the bot, and a scripted operator asking in a room.

Everything runs on 127.0.0.1 and is stopped at the end (or kept with ``--keep`` until Ctrl-C, with
what a person needs to log in with any Matrix client).
"""

from __future__ import annotations

import asyncio
import secrets
import signal
from collections.abc import Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from bot.app import Bot
from bot.config import AccessConfig, Config, MatrixConfig
from bot.devserver.synapse import LocalSynapse
from bot.matrix.client import MatrixConnection
from bot.matrix.operator import Operator, joined, reply_to
from bot.service import Service

T = TypeVar("T")
QUESTIONS = ("!ccci help", "!ccci why mumble", "!ccci summary")
PASSWORD_ENV = "CCCI_DEMO_BOT_PASSWORD"  # noqa: S105 - the name of a variable, not a password


async def chat_demo(base: Config, workdir: Path, keep: bool) -> None:
    synapse = LocalSynapse(workdir / "synapse")
    print(f"\n== starting a local Synapse in {workdir / 'synapse'}")
    await asyncio.to_thread(synapse.start)
    bot_task: asyncio.Task[None] | None = None
    service: Service | None = None
    operator: Operator | None = None
    bot: Bot | None = None
    try:
        bot_password, operator_password = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
        bot_user = await asyncio.to_thread(synapse.register, "ccci-bot", bot_password)
        person = await asyncio.to_thread(synapse.register, "operator", operator_password)
        operator = Operator(person, synapse.url)
        room_id = await operator.create_room("ops", invite=[bot_user.user_id])
        config = replace(
            base,
            matrix=MatrixConfig(
                homeserver=synapse.url,
                user_id=bot_user.user_id,
                password_env=PASSWORD_ENV,
                rooms=(room_id,),
                sync_timeout_s=10,
                backoff_min_s=0.2,
                backoff_max_s=5,
            ),
            access=AccessConfig(operators=(person.user_id,)),
        )
        service = Service(config)
        connection = MatrixConnection(config.matrix, config.data_dir, environ={PASSWORD_ENV: bot_password})
        bot = Bot(config, service, connection)
        bot_task = asyncio.create_task(bot.run())
        await _unless_bot_fails(operator.wait_for(joined(bot_user.user_id), timeout=60), bot_task)
        print(f"== room {room_id} on {synapse.url}: transcript\n")
        for question in QUESTIONS:
            event_id = await operator.say(room_id, question)
            print(f"<{person.user_id}> {question}")
            (reply,) = await _unless_bot_fails(
                operator.wait_for(reply_to(event_id, bot_user.user_id), timeout=60), bot_task
            )
            body = str((reply.get("content") or {}).get("body", ""))
            print(
                "\n".join(
                    f"<{bot_user.user_id}> {line}" if i == 0 else f"    {line}"
                    for i, line in enumerate(body.splitlines())
                )
            )
            print()
        if keep:
            print(
                f"== kept running. Log in with any Matrix client: homeserver {synapse.url}, user "
                f"{person.user_id}, password {operator_password}; the room is {room_id}. Ctrl-C stops."
            )
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
    finally:
        if bot is not None:
            bot.stop.set()
        if bot_task is not None:
            await asyncio.gather(bot_task, return_exceptions=True)
        if operator is not None:
            await operator.close()
        if service is not None:
            service.close()
        await asyncio.to_thread(synapse.stop)
        print("== stopped the bot and Synapse; nothing is left running")


async def _unless_bot_fails(waiting: Coroutine[Any, Any, T], bot_task: asyncio.Task[None]) -> T:
    """Wait for something the bot should cause, but fail at once (with its error) if the bot dies."""
    task = asyncio.ensure_future(waiting)
    await asyncio.wait({task, bot_task}, return_when=asyncio.FIRST_COMPLETED)
    if not task.done():
        task.cancel()
        error = bot_task.exception()
        raise RuntimeError(f"the bot stopped: {error!r}") from error
    return task.result()


def synapse_available() -> bool:
    try:
        import synapse  # noqa: F401
    except ImportError:
        return False
    return True
