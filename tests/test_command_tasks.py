"""Commands as their own tasks, without a transport: the bot's inbox, flood control, shutdown and resume.

The real Bot, store, dispatcher and outbox queue; nothing is sent (no homeserver here: the Matrix
side is tests/test_matrix_bot.py). The one test double is a command that waits until the test
releases it, standing in for a slow ingest.
"""

from __future__ import annotations

import asyncio
import json

from msgspec.structs import replace

from bot.matrix.client import MatrixConnection
from bot.matrix.events import ChatMessage
from bot.model.answers import NoticeAnswer
from bot.runtime.bot import Bot
from bot.service import Service
from commands import Command, Context
from tests import rawdb
from tests.conftest import Site


def waiting_command(release: asyncio.Event) -> Command:
    async def handle(ctx: Context) -> NoticeAnswer:
        await release.wait()
        return NoticeAnswer("done waiting")

    return Command("wait", "a test double: answers when the test releases it", False, handle)


def make_bot(site: Site, release: asyncio.Event) -> tuple[Bot, Service]:
    matrix = replace(site.config.matrix, homeserver="http://127.0.0.1:9", user_id="@bot:x")
    config = replace(site.config, matrix=matrix)
    service = Service(config)
    bot = Bot(config, service, MatrixConnection(config.matrix, config.data_dir))
    bot.dispatcher.commands["wait"] = waiting_command(release)
    return bot, service


def msg(n: int, sender: str, body: str) -> ChatMessage:
    return ChatMessage(f"$e{n}", "!room", sender, body, "m.text", 1000 + n)


def replies(site: Site) -> dict[str, list[str]]:
    """Queued m.room.message bodies by the event they reply to."""
    found: dict[str, list[str]] = {}
    for (content_json,) in rawdb.rows(
        site.store, "SELECT content_json FROM outbox WHERE event_type = 'm.room.message'"
    ):
        content = json.loads(content_json)
        target = content["m.relates_to"]["m.in_reply_to"]["event_id"]
        found.setdefault(target, []).append(content["body"])
    return found


def test_flood_control_shutdown_and_resume(site: Site) -> None:
    """Alice's three slow commands fill her limit (access.max_in_flight = 3): her fourth is refused
    politely, her fifth silently, while Bob's `help` is answered. A stop leaves the slow ones in the
    inbox; the next process answers each of them once."""
    alice, bob = "@alice:x", "@bob:x"
    sent = [msg(1, alice, "!ccci wait"), msg(2, alice, "!ccci wait"), msg(3, alice, "!ccci wait")]
    sent += [msg(4, alice, "!ccci help"), msg(5, alice, "!ccci status"), msg(6, bob, "!ccci help")]

    async def first_process() -> None:
        release = asyncio.Event()
        bot, service = make_bot(site, release)
        await asyncio.to_thread(bot.chat.record, sent)
        await bot.command_tasks.start_recorded()
        quick = [bot.command_tasks.in_flight[e].task for e in ("$e4", "$e5", "$e6")]
        assert [bot.command_tasks.in_flight[e].counted for e in ("$e1", "$e2", "$e3", "$e4", "$e5", "$e6")] == [
            True,
            True,
            True,
            False,
            False,
            True,
        ]
        await asyncio.gather(*quick)
        assert sorted(bot.command_tasks.in_flight) == ["$e1", "$e2", "$e3"]  # the slow ones, still running
        await bot.command_tasks.stop_commands()  # as at shutdown: cancelled and awaited, never released
        assert bot.command_tasks.in_flight == {}
        service.close()

    asyncio.run(first_process())
    answered = replies(site)
    assert set(answered) == {"$e4", "$e6"}
    (refusal,) = answered["$e4"]
    assert refusal.startswith("Sorry, you already have 3 commands running, so `help` was not run")
    assert answered["$e6"][0].startswith("ccci-bot commands (prefix !ccci)")
    assert {row[0] for row in rawdb.rows(site.store, "SELECT event_id FROM command_inbox")} == {"$e1", "$e2", "$e3"}
    handled = dict(rawdb.rows(site.store, "SELECT event_id, command FROM handled_events"))
    assert handled == {"$e4": "refused", "$e5": "refused", "$e6": "help"}

    async def next_process() -> None:
        release = asyncio.Event()
        release.set()
        bot, service = make_bot(site, release)
        await bot.command_tasks.start_recorded()
        await asyncio.gather(*[f.task for f in bot.command_tasks.in_flight.values()])
        await bot.command_tasks.start_recorded()  # nothing left to resume, nothing answered twice
        assert bot.command_tasks.in_flight == {}
        service.close()

    asyncio.run(next_process())
    answered = replies(site)
    assert {e: answered[e] for e in ("$e1", "$e2", "$e3")} == {e: ["done waiting"] for e in ("$e1", "$e2", "$e3")}
    assert rawdb.rows(site.store, "SELECT COUNT(*) FROM command_inbox")[0][0] == 0
    assert {row[0] for row in rawdb.rows(site.store, "SELECT event_id FROM handled_events")} == {
        f"$e{n}" for n in range(1, 7)
    }


def test_a_slow_commands_reaction_comes_before_its_answer_and_only_once(site: Site) -> None:
    """The 👀 is queued (and remembered in the inbox) while the command is in flight; a resumed
    command whose 👀 was queued does not get a second one."""

    async def scenario() -> list[tuple[str, str]]:
        release = asyncio.Event()
        bot, service = make_bot(site, release)
        slow = msg(1, "@alice:x", "!ccci wait")
        await asyncio.to_thread(bot.chat.record, [slow])
        await bot.command_tasks.start_recorded()
        await asyncio.wait_for(bot.outbox.wake.wait(), 30)  # the outbox is woken for the 👀 (after 1 s)
        assert rawdb.rows(site.store, "SELECT acked FROM command_inbox")[0][0] == 1
        await bot.command_tasks.stop_commands()
        service.close()
        bot, service = make_bot(site, release)
        release.set()
        await bot.command_tasks.start_recorded()
        await asyncio.gather(*[f.task for f in bot.command_tasks.in_flight.values()])
        service.close()
        return [(r[0], r[1]) for r in rawdb.rows(site.store, "SELECT event_type, content_json FROM outbox ORDER BY id")]

    queued = asyncio.run(scenario())
    assert [kind for kind, _ in queued] == ["m.reaction", "m.room.message"]
    assert json.loads(queued[1][1])["body"] == "done waiting"


def test_the_password_given_to_the_connection_is_masked_in_the_room(site: Site) -> None:
    """The bot masks the secrets of the environment its connection logs in with, not only os.environ's."""
    matrix = replace(site.config.matrix, homeserver="http://127.0.0.1:9", user_id="@bot:x", password_env="CCCI_T_PW")
    config = replace(site.config, matrix=matrix)
    service = Service(config)
    try:
        bot = Bot(config, service, MatrixConnection(config.matrix, config.data_dir, {"CCCI_T_PW": "hunter2-secret"}))
        assert "hunter2-secret" not in bot.masker.mask("the password is hunter2-secret")
    finally:
        service.close()
