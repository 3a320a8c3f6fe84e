"""Message contents: relations, the event size limit, and command parsing (pure functions)."""

import json

from bot.chat.dispatch import parse
from bot.chat.messages import MAX_CONTENT_BYTES, notice, reaction
from bot.matrix.events import ChatMessage

CMD = ChatMessage("$cmd", "!room", "@alice:x", "!ccci why mumble", "m.text", 0)


def test_a_reply_relates_to_the_command_and_a_thread_reply_stays_in_its_thread() -> None:
    plain = notice("body", "<b>body</b>", CMD)
    assert plain["msgtype"] == "m.notice" and plain["format"] == "org.matrix.custom.html"
    assert plain["m.relates_to"] == {"m.in_reply_to": {"event_id": "$cmd"}}
    threaded = notice("body", "<b>body</b>", ChatMessage("$cmd", "!room", "@a:x", "b", "m.text", 0, "$root"))
    assert threaded["m.relates_to"]["rel_type"] == "m.thread"
    assert threaded["m.relates_to"]["event_id"] == "$root"
    assert threaded["m.relates_to"]["m.in_reply_to"] == {"event_id": "$cmd"}
    assert reaction(CMD)["m.relates_to"] == {"rel_type": "m.annotation", "event_id": "$cmd", "key": "👀"}


def test_a_long_answer_is_cut_under_the_event_limit_with_a_link() -> None:
    body = "\n".join(f"{n:>6}> log line with <html> & ünïcödé {n}" for n in range(20_000))
    content = notice(body, "<pre>" + body + "</pre>", CMD, "https://ci.example.org/runs/753/")
    assert len(json.dumps(content, ensure_ascii=False).encode()) <= MAX_CONTENT_BYTES
    assert content["body"].startswith("     0> log line")
    assert "more characters cut" in content["body"] and "https://ci.example.org/runs/753/" in content["body"]
    assert '<a href="https://ci.example.org/runs/753/">full evidence</a>' in content["formatted_body"]
    assert "&lt;html&gt;" in content["formatted_body"]  # cut text stays escaped
    assert content["m.relates_to"] == {"m.in_reply_to": {"event_id": "$cmd"}}


def test_commands_are_parsed_strictly() -> None:
    assert parse("!ccci why mumble", "!ccci") is not None
    parsed = parse("!ccci why mumble", "!ccci")
    assert parsed is not None and (parsed.name, parsed.args) == ("why", ["mumble"])
    assert parse("!ccci", "!ccci") is not None and parse("!ccci", "!ccci").name == "help"  # type: ignore[union-attr]
    assert parse("> <@bob:x> earlier\n\n!ccci summary", "!ccci").name == "summary"  # type: ignore[union-attr]
    assert parse("please !ccci why mumble", "!ccci") is None
    assert parse("!cccix why", "!ccci") is None
    assert parse("", "!ccci") is None


def test_acting_needs_the_operator_list_or_enough_power() -> None:
    from bot.chat.dispatch import may_act
    from bot.config import AccessConfig

    access = AccessConfig(operators=("@alice:x",), min_power_level=50)
    assert may_act(access, "@alice:x", 0)
    assert may_act(access, "@bob:x", 50)
    assert not may_act(access, "@bob:x", 49)


def test_acting_from_an_encrypted_message_needs_a_known_device_key() -> None:
    """TOFU: an acting command that decrypted with a sender key the bot does not hold for that user is refused."""
    import asyncio
    from dataclasses import replace

    from bot.chat.dispatch import Dispatcher
    from bot.config import AccessConfig
    from commands import Context

    dispatcher = Dispatcher(
        lambda m: Context(None),  # type: ignore[arg-type]  # a refusal never reaches the service
        AccessConfig(operators=("@alice:x",)),
        lambda room, user: 0,
    )
    cmd = ChatMessage("$c", "!room", "@alice:x", "!ccci ingest", "m.text", 0, encrypted=True)

    def body(msg: ChatMessage) -> str:
        parsed = parse(msg.body, "!ccci")
        assert parsed is not None
        return str(asyncio.run(dispatcher.answer(msg, parsed)).content["body"])

    assert "encrypted by a device whose keys I do not know" in body(cmd)
    assert "encrypted by a device" not in body(replace(cmd, sender_key_known=True))
    assert "encrypted by a device" not in body(replace(cmd, encrypted=False))  # a plain room's rules are unchanged
    why = replace(cmd, body="!ccci help")  # asking is for everyone, whatever the device
    assert "encrypted by a device" not in body(why)
