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
