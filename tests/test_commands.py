"""The command registry: one declaration per command drives chat parsing, usage lines, `!ccci help`,
`ccci-bot help` and the argparse subcommands; every chat command's CLI twin answers the same."""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.answers.suggest import UnknownNameError
from bot.artifacts.timefmt import iso
from bot.chat.dispatch import Dispatcher, parse
from bot.cli.main import build_parser, cli_commands, main
from bot.config import AccessConfig
from bot.errors import CcciError
from bot.ingest.scan import ingest
from bot.matrix.events import ChatMessage
from bot.model.answers import NoticeAnswer
from bot.model.records import Category, ScanScope
from bot.model.reruns import NotifyKind, RerunState
from bot.render import to_text
from bot.reruns.manager import RerunManager
from bot.reruns.preflight import Node, NodeUnreachable
from bot.service import Service
from bot.store import StoreError
from bot.store.chat import Outgoing
from bot.store.reruns import Rerun
from commands import BotState, Command, Context, UsageError
from commands.args import TEXT, Arg, Signature
from commands.registry import registry
from tests.conftest import Site

ROOT = Path(__file__).parent.parent
# Where each doc's two command tables sit: the README's short ones, docs/commands.md's in full.
COMMAND_TABLES = {
    "README.md": ("### CLI\n", "### In the ops room", "## Security"),
    "docs/commands.md": ("## CLI reference", "## In the ops room", "## `why --json`"),
}


def cli_dirs(site: Site) -> list[str]:
    return ["--runs-dir", str(site.runs_dir), "--warm-dir", str(site.warm_dir), "--data-dir", str(site.config.data_dir)]


@pytest.fixture
def ingested(site: Site) -> Site:
    ingest(site.store, site.config)
    return site


# --- declarations → parsing, usage, help ---------------------------------------------------------


def test_usage_lines_come_from_the_declarations() -> None:
    usages = {name: c.usage for name, c in registry().items()}
    assert usages == {
        "help": "help [command]",
        "why": "why <recipe>",
        "summary": "summary [sweep-id]",
        "history": "history <recipe> [n]",
        "status": "status",
        "rerun": "rerun <recipe> [version] [xN]",
        "cancel": "cancel [recipe]",
        "known": "known",
        "calibration": "calibration",
        "link": "link <recipe> <issue-url> [note…]",
        "unlink": "unlink <recipe> [issue-url]",
        "verdict": "verdict <recipe> <category> [reason…]",
        "mute": "mute <recipe> <until> [reason…]",
        "unmute": "unmute <recipe>",
        "ingest": "ingest",
        "reclassify": "reclassify",
        "learn": "learn <recipe> <category> <pattern…>",
    }


def test_chat_arguments_are_parsed_by_their_declared_types() -> None:
    commands = registry()

    def parsed(name: str, *tokens: str) -> dict[str, object]:
        return commands[name].signature.parse(list(tokens))

    assert parsed("why", "mumble") == {"recipe": "mumble"}
    assert parsed("history", "mumble") == {"recipe": "mumble", "n": 10}
    assert parsed("history", "mumble", "3") == {"recipe": "mumble", "n": 3}
    assert parsed("summary") == {"sweep": None}
    assert parsed("rerun", "mumble") == {"recipe": "mumble", "version": None, "times": 1}
    assert parsed("rerun", "mumble", "1.0.0", "x3") == {"recipe": "mumble", "version": "1.0.0", "times": 3}
    assert parsed("rerun", "mumble", "x2", "1.0.0") == {"recipe": "mumble", "version": "1.0.0", "times": 2}
    # learn's pattern is the rest of the line, its words joined by one space; the category is checked
    learned = {"recipe": "outline", "category": Category.FLAKE, "pattern": r"timed out after \d+ s"}
    assert parsed("learn", "outline", "FLAKE", "timed", "out", "after", r"\d+", "s") == learned
    refusals = {
        ("why",): "`why` takes 1 argument(s), got 0",
        ("why", "mumble", "-rf", "/"): "`why` takes 1 argument(s), got 3",
        ("why", "mumble;rm"): "not a recipe name: 'mumble;rm'",
        ("history", "mumble", "51"): "not a count: '51' (a whole number from 1 to 50)",
        ("history", "mumble", "0"): "not a count: '0'",
        ("summary", "yesterday"): "not a sweep id: 'yesterday'",
        ("rerun", "mumble", "1.0", "2.0"): "unexpected argument '2.0'",
        ("rerun", "mumble", "1", "2", "3"): "`rerun` takes 1 to 3 argument(s), got 4",
        ("cancel", "a", "b"): "`cancel` takes 0 to 1 argument(s), got 2",
        ("learn", "outline", "flaky", "x"): "not a category: 'flaky'; did you mean flake?",
        ("learn", "outline", "flake"): "`learn` takes 3 or more argument(s), got 2",
        ("learn", "outline", "flake", "x" * 501): "the pattern is 501 characters; at most 500",
    }
    for (name, *tokens), message in refusals.items():
        with pytest.raises(UsageError) as info:
            parsed(name, *tokens)
        assert str(info.value).startswith(message), (name, tokens, str(info.value))


def test_choices_are_checked_in_chat_and_shown_in_usage() -> None:
    sig = Signature("report", (Arg("which", TEXT, "which report", choices=("sweep", "red")),))
    assert sig.parse(["red"]) == {"which": "red"}
    with pytest.raises(UsageError, match=r"which: 'blue' is not one of sweep, red"):
        sig.parse(["blue"])
    assert cli_commands()["report"].usage == "report {sweep,red} [SWEEP] [--json] [--no-ingest]"


def test_every_handler_takes_exactly_its_declared_arguments() -> None:
    for command in registry().values():
        params = list(inspect.signature(command.handler).parameters)
        assert params[0] == "ctx"
        assert params[1:] == [a.name for a in command.args], command.name


def test_the_scan_before_an_answer_checks_the_sealed_runs_that_answer_reads() -> None:
    commands = cli_commands()
    one = ScanScope(recipes=frozenset({"mumble"}))
    assert commands["why"].scan_scope({"recipe": "mumble"}) == one
    assert commands["history"].scan_scope({"recipe": "mumble", "n": "3"}) == one
    assert commands["summary"].scan_scope({"sweep": None}) == ScanScope(latest_sweep=True)
    assert commands["summary"].scan_scope({"sweep": "sweep-1"}) == ScanScope(sweeps=frozenset({"sweep-1"}))
    assert commands["reclassify"].scan_scope({}) is None  # every red recipe: every run is checked
    with pytest.raises(UsageError, match="not a recipe name"):
        commands["why"].scan_scope({"recipe": "../x"})  # converted as the answer's arguments are, first


def test_the_argparse_subcommands_are_built_from_the_registry() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert list(sub.choices) == list(cli_commands())
    assert set(registry()) <= set(sub.choices)  # every chat command has a CLI twin
    for name, command in registry().items():
        dests = {a.dest for a in sub.choices[name]._actions}
        assert {a.name for a in command.args} <= dests, name
        assert "json" in dests, name
        assert ("no_ingest" in dests) == cli_commands()[name].fresh, name
    rerun = sub.choices["rerun"].parse_args(["mumble", "--version", "1.0", "--times", "2"])
    assert (rerun.recipe, rerun.version, rerun.times) == ("mumble", "1.0", "2")


def test_chat_help_lists_the_registry_and_explains_one_command() -> None:
    async def scenario() -> tuple[str, str, str]:
        help_command = registry()["help"]
        ctx = Context(None, "!ccci", commands=registry())  # type: ignore[arg-type]  # help reads no service
        full = to_text(await help_command.run(ctx, []))
        one = to_text(await help_command.run(ctx, ["history"]))
        with pytest.raises(UsageError) as info:
            await help_command.run(ctx, ["hstory"])
        return full, one, str(info.value)

    full, one, refused = asyncio.run(scenario())
    for command in registry().values():
        assert f"!ccci {command.usage}" in full
        assert command.help in full
    assert "reclassify" in full and "[operators]" in full.splitlines()[-1]
    assert one.splitlines()[0] == "!ccci history <recipe> [n]"
    assert "how many runs, 1 to 50 (default 10) (optional)" in one
    assert refused == "no command 'hstory'; did you mean history?"


def test_cli_help_lists_every_subcommand_in_cli_spelling(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["help"]) == 0
    out = capsys.readouterr().out
    for command in cli_commands().values():
        assert f"ccci-bot {command.usage}" in out
    assert main(["help", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in data["commands"]] == list(cli_commands())
    assert main(["help", "rerun"]) == 0
    assert "--times N" in capsys.readouterr().out
    assert main(["help", "whyy"]) == 2
    assert "did you mean why" in capsys.readouterr().err


@pytest.mark.parametrize("doc", COMMAND_TABLES)
def test_the_docs_command_tables_match_the_registry(doc: str) -> None:
    text = (ROOT / doc).read_text()
    cli, room, end = COMMAND_TABLES[doc]
    cli_part = text[text.index(cli) : text.index(room)]
    room_part = text[text.index(room) : text.index(end)]
    for command in cli_commands().values():
        assert f"`ccci-bot {command.usage}`" in cli_part, command.name
    for command in registry().values():
        assert f"`!ccci {command.usage}`" in room_part, command.name
    listed_cli = set(re.findall(r"^\| `ccci-bot ([a-z-]+)", cli_part, re.M))
    listed_room = set(re.findall(r"`!ccci ([a-z]+)", room_part))
    assert listed_cli == set(cli_commands())
    assert listed_room == set(registry())


# --- CLI twins: same text and JSON as the chat answer ---------------------------------------------


def chat(site: Site, body: str, manager: RerunManager | None = None) -> dict[str, object]:
    """The chat path without a transport: parse, rights, handler, render; returns the message content."""

    async def answer() -> dict[str, object]:
        service = Service(site.config)
        try:
            reruns = manager or RerunManager(
                service, Node(site.config.ccci.active_dir, None, ()), _quiet, asyncio.Event()
            )
            dispatcher = Dispatcher(
                lambda m: Context(service, "!ccci", m.sender, m.room_id, BotState(), m.event_id, reruns),
                AccessConfig(operators=("@alice:x",)),
                lambda _room, _user: 0,
            )
            msg = ChatMessage("$cmd", "!room", "@alice:x", body, "m.text", 0)
            parsed = parse(body, "!ccci")
            assert parsed is not None
            return (await dispatcher.answer(msg, parsed)).content
        finally:
            service.close()

    return asyncio.run(answer())


async def _quiet(rerun: Rerun, kind: NotifyKind, text: str) -> None:
    """Nothing to hear: these reruns are only queued and cancelled."""


def test_cli_history_says_what_the_chat_says(ingested: Site, capsys: pytest.CaptureFixture[str]) -> None:
    body = chat(ingested, "!ccci history mattermost-lts 3")["body"]
    assert main(["history", "mattermost-lts", "3", "--no-ingest", *cli_dirs(ingested)]) == 0
    assert capsys.readouterr().out == f"{body}\n"
    assert str(body).startswith("mattermost-lts: last 3 run(s)")
    assert main(["history", "mattermost-lts", "3", "--json", *cli_dirs(ingested)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["recipe"] == "mattermost-lts" and len(data["runs"]) == 3
    assert main(["history", "mattermost-lts", "51", *cli_dirs(ingested)]) == 2
    assert "not a count: '51'" in capsys.readouterr().err


def test_cli_status_shows_what_the_store_knows(ingested: Site, capsys: pytest.CaptureFixture[str]) -> None:
    ingested.store.chat.enqueue([Outgoing("!room", "m.room.message", {"body": "x"}) for _ in range(2)])
    chat_body = str(chat(ingested, "!ccci status")["body"])
    now = datetime.now(UTC)
    assert main(["status", "--json", *cli_dirs(ingested)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert main(["status", *cli_dirs(ingested)]) == 0
    text = capsys.readouterr().out
    seven = now.replace(hour=7, minute=0, second=0, microsecond=0)
    expected_next = seven if seven > now else seven + timedelta(days=1)  # reports.cron "0 7 * * *", UTC
    assert data["next_report"] == iso(expected_next.timestamp())
    assert data["live"] is False and data["started_at"] is None and data["last_sync"] is None
    assert data["outbox_pending"] == 2
    assert data["last_ingest"] == ingested.store.meta.get("last_ingest") and data["last_ingest"]
    assert data["runs"] == ingested.store.counts()["runs"] > 0
    assert "not visible here" in text and "outbox 2 pending" in text
    # The chat's answer has the same store-derived parts; it adds the live bot's sync and rooms.
    shared = text.split("last ingest", 1)[1].split("; rooms", 1)[0].split("; last summary")[0]
    assert shared.strip() and shared in chat_body
    assert "up since" in chat_body and "up since" not in text


def test_cli_cancel_cancels_queued_reruns_and_names_the_running_one(
    ingested: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    reruns = ingested.store.reruns
    first = reruns.add("mumble", "1.0.0+v1.6.870-0", 1, "@alice:x", None, None)
    assert main(["cancel", "mumble", *cli_dirs(ingested)]) == 0
    cli_text = capsys.readouterr().out
    assert cli_text == "Cancelled: mumble 1.0.0+v1.6.870-0.\n"
    assert reruns.get(first.id).state == "cancelled"
    reruns.add("mumble", "1.0.0+v1.6.870-0", 1, "@alice:x", None, None)
    assert f"{chat(ingested, '!ccci cancel mumble')['body']}\n" == cli_text  # the chat says the same
    queued = reruns.add("gitea", "2.0", 1, "@alice:x", None, None)
    running = reruns.add("outline", "3.0", 1, "@alice:x", None, None)
    reruns.set_state(running.id, RerunState.RUNNING)  # the bot's, in another process
    assert main(["cancel", "--json", *cli_dirs(ingested)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data == {
        "recipe": None,
        "cancelled": [{"id": queued.id, "recipe": "gitea", "version": "2.0"}],
        "elsewhere": [{"id": running.id, "recipe": "outline", "version": "3.0"}],
    }
    assert reruns.get(queued.id).state == "cancelled" and reruns.get(running.id).state == "running"
    assert main(["cancel", *cli_dirs(ingested)]) == 0
    assert capsys.readouterr().out == ("Still running in the bot (`cancel` in the ops room stops it): outline 3.0.\n")
    assert main(["cancel", "gitea", *cli_dirs(ingested)]) == 0
    assert capsys.readouterr().out == "Nothing to cancel for gitea.\n"


def test_ingest_and_reclassify_answer_the_same_in_chat_and_cli(
    ingested: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["reclassify", "--no-ingest", *cli_dirs(ingested)]) == 0
    cli_text = capsys.readouterr().out
    content = chat(ingested, "!ccci reclassify")
    assert f"{content['body']}\n" == cli_text
    assert cli_text.startswith("knowledge base kb-") and "mumble" in cli_text
    assert str(content["formatted_body"]).startswith("<pre><code>knowledge base kb-")
    ingest_body = str(chat(ingested, "!ccci ingest")["body"])
    assert ingest_body.startswith("scanned ") and "0 new or changed" in ingest_body


# --- the dispatcher -------------------------------------------------------------------------------


def test_a_crashing_handler_still_gets_an_answer(ingested: Site, caplog: pytest.LogCaptureFixture) -> None:
    async def breaks(ctx: Context) -> NoticeAnswer:
        raise RuntimeError("kaputt")

    async def scenario() -> dict[str, object]:
        service = Service(ingested.config)
        dispatcher = Dispatcher(lambda m: Context(service), AccessConfig(), lambda _r, _u: 0)
        dispatcher.commands["breaks"] = Command("breaks", "a test double that raises", False, breaks)
        msg = ChatMessage("$cmd", "!room", "@bob:x", "!ccci breaks", "m.text", 0)
        try:
            return (await dispatcher.answer(msg, parse(msg.body, "!ccci"))).content  # type: ignore[arg-type]
        finally:
            service.close()

    with caplog.at_level(logging.ERROR, logger="bot.chat.dispatch"):
        content = asyncio.run(scenario())
    assert content["body"] == "Sorry, `breaks` failed inside the bot; the error is in its log."
    assert content["m.relates_to"] == {"m.in_reply_to": {"event_id": "$cmd"}}
    (record,) = [r for r in caplog.records if "command breaks from @bob:x failed" in r.getMessage()]
    assert record.exc_info is not None and str(record.exc_info[1]) == "kaputt"


LATER = "could not be answered just now; try again later."
BROKE = "failed inside the bot; the error is in its log."


@pytest.mark.parametrize(
    ("raised", "reply"),
    [
        (UsageError("not a count: '51'"), "not a count: '51'. Usage: `!ccci kinds`"),
        (UnknownNameError("recipe", "mumbel", ["mumble"]), "Sorry: unknown recipe 'mumbel'; did you mean mumble?"),
        (
            NodeUnreachable("docker at /run/docker.sock"),
            "Sorry, `kinds` could not be answered just now; try again later.",
        ),
        (
            StoreError("the store /var/lib/ccci/ccci.db is damaged"),
            "Sorry, `kinds` failed inside the bot; the error is in its log.",
        ),
    ],
    ids=["usage", "bad-input", "transient", "failure"],
)
def test_the_dispatcher_answers_each_kind_of_error(ingested: Site, raised: CcciError, reply: str) -> None:
    """One family caught: bad input is the asker's to fix (with the usage line when it is about the
    arguments), a transient one is worth asking again, a failure's message (host paths) stays in the log."""

    async def kinds(ctx: Context) -> NoticeAnswer:
        raise raised

    async def scenario() -> dict[str, object]:
        service = Service(ingested.config)
        dispatcher = Dispatcher(lambda m: Context(service), AccessConfig(), lambda _r, _u: 0)
        dispatcher.commands["kinds"] = Command("kinds", "a test double that raises", False, kinds)
        msg = ChatMessage("$cmd", "!room", "@bob:x", "!ccci kinds", "m.text", 0)
        try:
            return (await dispatcher.answer(msg, parse(msg.body, "!ccci"))).content  # type: ignore[arg-type]
        finally:
            service.close()

    assert asyncio.run(scenario())["body"] == reply


def test_cli_usage_errors_print_the_usage_line(ingested: Site, capsys: pytest.CaptureFixture[str]) -> None:
    """Bad arguments exit 2 with the command's usage line; other bad input (an unknown recipe) without it."""
    assert main(["history", "mattermost-lts", "51", *cli_dirs(ingested)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "ccci-bot: not a count: '51' (a whole number from 1 to 50)",
        f"usage: ccci-bot {cli_commands()['history'].usage}",
    ]
    assert main(["history", "mumbel", *cli_dirs(ingested)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ccci-bot: unknown recipe 'mumbel'") and "usage:" not in err


def test_usage_errors_name_the_usage_and_unknown_commands_get_hints(ingested: Site) -> None:
    assert chat(ingested, "!ccci why mumble -rf /")["body"] == (
        "`why` takes 1 argument(s), got 3. Usage: `!ccci why <recipe>`"
    )
    assert "did you mean `!ccci history`" in str(chat(ingested, "!ccci hstory mumble")["body"])
    assert str(chat(ingested, "!ccci rerun mumble x7")["body"]).startswith("Not queued: x7: at most x")
