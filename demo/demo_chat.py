"""The demo's chat part: a local Synapse, the bot, and a scripted operator asking in a room.

Everything runs on 127.0.0.1 and is stopped at the end (or kept with ``--keep`` until Ctrl-C, with
what a person needs to log in with any Matrix client).
"""

from __future__ import annotations

import asyncio
import re
import secrets
import signal
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from msgspec.structs import replace

from bot.config import (
    AccessConfig,
    Config,
    DockerConfig,
    LinksConfig,
    MatrixConfig,
    ReportsConfig,
    RunnerConfig,
    WebConfig,
)
from bot.config.values import EnvMap, HttpUrl, ListenAddress, Template
from bot.matrix.client import MatrixConnection
from bot.runtime.bot import Bot
from bot.runtime.report_loop import BASELINE_KEY
from bot.service import Service
from demo.devserver.process import free_port
from demo.devserver.synapse import LocalSynapse
from demo.operator import Event, Operator, edit_of, in_thread, joined, message_from, reply_to
from demo.sample.generate import GeneratedData
from demo.sample.staging import runs_of_sweep_window
from demo.sample.standin_runner import STEP, runner_env

T = TypeVar("T")
QUESTIONS = ("!ccci help", "!ccci why outline")
# Then one of the reds that need a look is rerun by hand: its status message (tier, time, who, live log) is
# edited in place while the stand-in runner plays cc-ci, and the report compares it with the sweep.
RERUN = "!ccci rerun discourse"
LAST_QUESTION = "!ccci status"
# Said before the next sweep arrives: bluesky's red (its pinned image is gone upstream) fails the same way
# in that sweep, so the summary lists it as known, by its issue, instead of asking for a look again.
LINK = "!ccci link bluesky https://git.coopcloud.tech/coop-cloud/bluesky-pds/issues/12 image withdrawn upstream"
PASSWORD_ENV = "CCCI_DEMO_BOT_PASSWORD"  # noqa: S105 - the name of a variable, not a password


def _print_event(sender: str, event: dict[str, Any], limit: int = 40) -> None:
    body = str((event.get("content") or {}).get("body", "")).splitlines()
    shown = body[:limit] + ([f"… ({len(body) - limit} more lines)"] if len(body) > limit else [])
    print("\n".join(f"<{sender}> {line}" if i == 0 else f"    {line}" for i, line in enumerate(shown)))
    print()


def _chat_config(base: Config, workdir: Path, data: GeneratedData) -> Config:
    """The stand-in runner plays cc-ci for the bot's automatic reruns; no Docker engine is asked."""
    env = runner_env(data.runs_dir, data.recipes_src, data.world_file)
    runner = RunnerConfig(steps=(tuple(map(Template, STEP)),), env=EnvMap(env.items()), busy_poll_s=0.1)
    port = free_port()  # for the evidence pages the chat links point at
    return replace(
        base,
        runner=runner,
        docker=DockerConfig(base_url=None),
        reports=ReportsConfig(quiet_s=0, poll_s=3600),
        web=WebConfig(listen=ListenAddress(f"127.0.0.1:{port}"), public_url=HttpUrl(f"http://127.0.0.1:{port}")),
        links=LinksConfig(base_url=None),
        data_dir=workdir / "chat-state",
    )


async def _wait_meta(service: Service, key: str, bot_task: asyncio.Task[None], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while await asyncio.to_thread(service.store.meta.get, key) is None:
        if bot_task.done() or time.monotonic() > deadline:
            raise RuntimeError(f"the bot did not finish its first scan ({key}) within {timeout:.0f} s")
        await asyncio.sleep(0.05)


async def chat_demo(base: Config, workdir: Path, keep: bool, data: GeneratedData) -> None:
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
        # An encrypted room, as Element makes private rooms; the scripted operator is an E2EE client too.
        operator = Operator(person, synapse.url, store_path=workdir / "operator-store")
        room_id = await operator.create_room("ops", invite=[bot_user.user_id], encrypted=True)
        # the newest sweep is held back, to be "written by cc-ci" while the bot watches
        last_sweep = max(r.sweep for r in data.runs if r.sweep is not None)
        held = [data.run_dir(r.run_id) for r in runs_of_sweep_window(data, last_sweep)]
        side = workdir / "held-back"
        side.mkdir(exist_ok=True)
        for run_dir in held:
            run_dir.rename(side / run_dir.name)
        config = replace(
            _chat_config(base, workdir, data),
            matrix=MatrixConfig(
                homeserver=HttpUrl(synapse.url),
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
        await _wait_meta(service, BASELINE_KEY, bot_task)
        print(
            f"== room {room_id} (end-to-end encrypted) on {synapse.url}; evidence pages at "
            f"{config.web.public_url}/: transcript\n"
        )
        await _ask(operator, room_id, person.user_id, bot_user.user_id, LINK, bot_task)
        print(f"== cc-ci writes the next sweep ({len(held)} run dirs); the bot posts its summary unasked\n")
        for run_dir in held:
            (side / run_dir.name).rename(run_dir)
        bot.reporter.wake.set()  # what POST /hooks/run-finished does; else the next poll finds it
        (head,) = await _unless_bot_fails(
            operator.wait_for(message_from(bot_user.user_id, "Sweep "), timeout=60), bot_task
        )
        _print_event(bot_user.user_id, head)
        details = await _unless_bot_fails(operator.wait_for(in_thread(head["event_id"]), timeout=60), bot_task)
        print("(in its thread)")
        _print_event(bot_user.user_id, details[0], limit=16)
        # one verdict update per automatic rerun, as each ends (the headline counts them: "2 rerunning")
        queued = re.search(r"(\d+) rerunning", str((head.get("content") or {}).get("body", "")))
        news = message_from(bot_user.user_id, "Verdict update")
        count = int(queued.group(1)) if queued else 1
        updates = await _unless_bot_fails(operator.wait_for(news, timeout=120 * count, count=count), bot_task)
        print("(in its thread, once each automatic isolation rerun finished)")
        for update in updates:
            _print_event(bot_user.user_id, update)
        for question in QUESTIONS:
            await _ask(operator, room_id, person.user_id, bot_user.user_id, question, bot_task)
        await _rerun(operator, room_id, person.user_id, bot_user.user_id, bot_task)
        await _ask(operator, room_id, person.user_id, bot_user.user_id, LAST_QUESTION, bot_task)
        bot_id = bot_user.user_id
        # The bot cross-signs before it answers its first command; the operator's client checks the chain.
        for device, signed in (await operator.devices_signed_by_owner(bot_id)).items():
            print(
                f"== the bot's device {device} is cross-signed: its account's master key signed the self-signing "
                "key that signed the device (checked by the operator's client)"
                if signed
                else f"== WARNING: the bot's device {device} is not cross-signed"
            )
        from_bot = [e for e in operator.seen if e.get("sender") == bot_id and e.get("type") != "m.room.member"]
        clear = [e for e in from_bot if not e.get("encrypted")]
        print(
            f"== the bot's {len(from_bot)} events in the room were all end-to-end encrypted"
            if not clear
            else f"== WARNING: {len(clear)} of the bot's {len(from_bot)} events were not encrypted"
        )
        if keep:
            print(
                f"== kept running. Log in with Element or any Matrix client with E2EE: homeserver {synapse.url}, "
                f"user {person.user_id}, password {operator_password}; the room is {room_id} (end-to-end "
                "encrypted: a new login reads what is said from then on; the bot shares its keys with your new "
                f"device on its next message). The evidence pages are at {config.web.public_url}/. Ctrl-C stops."
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


async def _ask(
    operator: Operator, room_id: str, person: str, bot_id: str, text: str, bot_task: asyncio.Task[None]
) -> None:
    """Say one command in the room and print it with the bot's reply."""
    event_id = await operator.say(room_id, text)
    print(f"<{person}> {text}")
    (reply,) = await _unless_bot_fails(operator.wait_for(reply_to(event_id, bot_id), timeout=60), bot_task)
    _print_event(bot_id, reply, limit=60)


def _body(event: Event) -> str:
    return str((event.get("content") or {}).get("body", ""))


async def _rerun(operator: Operator, room_id: str, person: str, bot_id: str, bot_task: asyncio.Task[None]) -> None:
    """Ask for a rerun and print its replies as the room shows them, in order: the queue's answer, the
    status message as first posted (the rerun has just started), then before the report the status
    message's last edit, marked as a client marks an edited message."""
    event_id = await operator.say(room_id, RERUN)
    print(f"<{person}> {RERUN}")
    replies = reply_to(event_id, bot_id)
    # Three replies: "Queued", the status message and the report; the first two may come in either order
    # (the rerun can start before the command's reply is sent).
    status: Event | None = None
    for count in (1, 2, 3):
        reply = (await _unless_bot_fails(operator.wait_for(replies, timeout=120, count=count), bot_task))[count - 1]
        if count < 3 and _body(reply).startswith("Isolation rerun of "):
            status = reply
        if count == 3 and status is not None:
            # the bot sends in order, so every edit of the status message came before the report
            edits = [e for e in operator.seen if edit_of(bot_id, status["event_id"])(e)]
            if edits:
                new = (edits[-1].get("content") or {}).get("m.new_content") or {}
                _print_event(bot_id, {"content": {"body": f"(edited) {new.get('body', '')}"}})
        _print_event(bot_id, reply, limit=12)


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
