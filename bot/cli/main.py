"""``ccci-bot`` command line: the same answers as the chat commands, for an operator's terminal.

The subcommands are built from the command registry (:mod:`commands`): each chat command has a twin
here with the same handler, the same text and ``--json``; the few CLI-only commands are declared
below with the same argument declarations.

A chat twin runs its handler under ``asyncio.run``, as the bot runs it under its event loop. The
commands that need the Matrix client, the web server or the demo's tools (run, web, doctor, demo)
import them in their own function, so an answer on the host loads none of them.

Exit codes, by the kind of error (:mod:`bot.errors`): 0 answered; 2 bad input (unknown recipe, bad
arguments — with the command's usage line —, invalid config, a pattern `learn` refuses); 1 anything
else (among it a store the bot will not use: a newer bot's, not SQLite, damaged, or with schema
objects its migrations do not define — the operator's state, not what they typed).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot import __version__
from bot.cli.upkeep import backup_command, check_config, repair_store_command
from bot.config import Config, ConfigError, listen_address, load_config
from bot.errors import EXIT_BAD_INPUT, BadInput, CcciError
from bot.fdlimit import raise_open_files_limit
from bot.logsetup import setup_logging
from bot.masking import Masker, mask_content
from bot.model.answers import ArgHelp, CommandHelp, HelpAnswer, NoticeAnswer
from bot.model.learn import LearnAnswer
from bot.model.records import ScanScope
from bot.model.reports import RedReport, SweepReport
from bot.model.reruns import NotifyKind
from bot.render import reports as render
from bot.render import to_brief, to_json, to_text
from bot.service import Service
from bot.store import store_problem
from commands import Answer, Arg, Command, Context, UsageError, history, learn, summary, why
from commands.args import SWEEP, TEXT, Signature, recipe_scope
from commands.help import no_such_command
from commands.registry import registry

if TYPE_CHECKING:
    from bot.reruns.manager import RerunManager
    from bot.store.reruns import Rerun


def _common() -> argparse.ArgumentParser:
    # SUPPRESS: the flags may come before or after the subcommand without one erasing the other.
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="YAML config file (default: none)")
    p.add_argument("--runs-dir", type=Path, default=argparse.SUPPRESS, help="override ccci.runs_dir")
    p.add_argument("--warm-dir", type=Path, default=argparse.SUPPRESS, help="override ccci.warm_dir")
    p.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS, help="override data_dir")
    p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="debug logging")
    return p


@dataclass(frozen=True)
class CliCommand:
    """A ``ccci-bot`` subcommand and what runs it (``run``, with the parsed arguments; its exit code).
    The chat commands' come from the registry; the CLI-only ones (check-config, report, rerun's waiting
    form, run, web, doctor, backup, repair-store, demo) are declared here with the same argument
    declarations. ``json``: takes ``--json``; ``fresh``: scans first unless ``--no-ingest``; ``scope``:
    called with the converted arguments, the sealed runs that scan checks (the answer reads no others;
    default: all); ``reruns``: the handler queues or cancels reruns (it gets a rerun manager);
    ``flags``: further CLI switches as (flag, help)."""

    name: str
    help: str
    run: Callable[[argparse.Namespace], int]
    args: tuple[Arg, ...] = ()
    json: bool = False
    fresh: bool = False
    scope: Callable[..., ScanScope] | None = None
    reruns: bool = False
    flags: tuple[tuple[str, str], ...] = ()

    @property
    def usage(self) -> str:
        shown = [a.cli_shown for a in self.args]
        shown += [f"[{flag}]" for flag, _ in self.flags]
        shown += ["[--json]"] if self.json else []
        shown += ["[--no-ingest]"] if self.fresh else []
        return " ".join([self.name, *shown])

    def scan_scope(self, given: dict[str, Any]) -> ScanScope | None:
        """What the scan before this answer checks, for arguments as argparse gives them (None: all)."""
        return self.scope(**Signature(self.name, self.args).values_from(given)) if self.scope is not None else None


@dataclass(frozen=True)
class Twin:
    """The CLI-only part of a chat command's twin (see :class:`CliCommand`); the chat bot scans on its own
    schedule and answers from the store, and its rerun manager is the bot's."""

    fresh: bool = False
    scope: Callable[..., ScanScope] | None = None
    reruns: bool = False


# Chat commands whose twin scans first or needs a rerun manager; any other twin answers from the store as is.
TWINS: dict[str, Twin] = {
    "why": Twin(fresh=True, scope=why.scope),
    "summary": Twin(fresh=True, scope=summary.scope),
    "history": Twin(fresh=True, scope=history.scope),
    "reclassify": Twin(fresh=True),
    "learn": Twin(fresh=True, scope=learn.scope),
    "link": Twin(fresh=True, scope=recipe_scope),
    "verdict": Twin(fresh=True, scope=recipe_scope),
    "mute": Twin(fresh=True, scope=recipe_scope),
    "known": Twin(fresh=True),
    "calibration": Twin(fresh=True),
    "cancel": Twin(reruns=True),
}


BRIEF_FLAG = ("--brief", "print the short answer the room gets (the whole answer goes to its thread)")


def _chat_twin(command: Command) -> CliCommand:
    extra = TWINS.get(command.name, Twin())
    twin = CliCommand(
        command.name,
        command.help,
        lambda args: _answer(args, config_from(args), command, twin),
        command.args,
        json=True,
        fresh=extra.fresh,
        scope=extra.scope,
        reruns=extra.reruns,
        flags=(*command.cli_flags, *((BRIEF_FLAG,) if command.brief else ())),
    )
    return twin


def _cli_only() -> dict[str, CliCommand]:
    """The CLI-only subcommands, and the two chat twins that run differently here: help (needs no config;
    it lists these commands too) and rerun (waits for the result)."""
    help_, rerun = registry()["help"], registry()["rerun"]
    return {
        "help": CliCommand("help", help_.help, _help, help_.args, json=True),
        "check-config": CliCommand(
            "check-config",
            "Validate a config file and the dirs it names; warnings for missing optional dirs.",
            lambda args: check_config(Path(args.file)),
            (Arg("file", TEXT, "the YAML config file", cli_metavar="FILE"),),
        ),
        "report": CliCommand(
            "report",
            "Print a sweep's summary or the current red report exactly as the room would get it (posts nothing).",
            lambda args: _report(args, config_from(args)),
            (
                Arg("which", TEXT, "sweep: a sweep's summary; red: the current reds", choices=("sweep", "red")),
                Arg("sweep", SWEEP, "with `sweep`: a sweep id (default: the latest)", optional=True),
            ),
            json=True,
            fresh=True,
        ),
        "rerun": CliCommand(
            "rerun",
            "Re-run a recipe alone on the CI node, wait, and print the report (exit 0 ran, 3 node busy, 4 runner).",
            _rerun,
            rerun.args,
            json=True,
        ),
        "run": CliCommand(
            "run",
            "Run the Matrix bot (needs the matrix section of the config).",
            lambda args: run_command(config_from(args)),
        ),
        "web": CliCommand(
            "web",
            "Serve the evidence pages alone, without chat.",
            lambda args: web_command(config_from(args), args.listen),
            (
                Arg(
                    "listen",
                    TEXT,
                    "HOST:PORT (default: web.listen, else 127.0.0.1:8080)",
                    optional=True,
                    option=True,
                    cli_metavar="HOST:PORT",
                ),
            ),
        ),
        "doctor": CliCommand(
            "doctor",
            "Check what the bot needs, one line each (✓, or ✗ and how to fix it); exit 1 if any fails.",
            doctor_command,
            json=True,
        ),
        "backup": CliCommand(
            "backup",
            "A consistent copy of the store (SQLite's online backup API), safe while the bot runs.",
            lambda args: backup_command(config_from(args), Path(args.file)),
            (Arg("file", TEXT, "where the copy goes (must not exist)", cli_metavar="FILE"),),
        ),
        "repair-store": CliCommand(
            "repair-store",
            "Drop the triggers, views, indexes and tables a restored store holds beyond this bot's schema"
            " (`doctor` names them); a copy of it as it was goes to data_dir/backups first.",
            lambda args: repair_store_command(config_from(args)),
        ),
        "demo": CliCommand(
            "demo",
            "Generate sample cc-ci data, run the main job on it, then the chat part (local Synapse, bot, operator).",
            demo_command,
            (
                Arg(
                    "out",
                    TEXT,
                    "where sample data goes (default: ./demo-data)",
                    optional=True,
                    option=True,
                    cli_metavar="DIR",
                ),
            ),
            flags=(
                ("--no-chat", "skip the local Synapse + bot + operator part"),
                ("--keep", "keep Synapse and the bot running; print how to log in"),
            ),
        ),
    }


def cli_commands() -> dict[str, CliCommand]:
    """Every subcommand in help order: the chat commands' twins (help and rerun in their CLI forms), then
    CLI-only ones."""
    only = _cli_only()
    found = {name: only.pop(name) if name in only else _chat_twin(c) for name, c in registry().items()}
    return {**found, **only}


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="ccci-bot", parents=[common], description="Explain cc-ci's red recipes from its run artifacts."
    )
    parser.add_argument("--version", action="version", version=f"ccci-bot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in cli_commands().values():
        p = sub.add_parser(command.name, parents=[common], help=command.help, description=command.help)
        for arg in command.args:
            # No argparse `type`: values are converted as chat converts them, with the same messages.
            choices = arg.choices or None
            metavar = None if choices else arg.cli_name
            if arg.option:
                p.add_argument(f"--{arg.name}", dest=arg.name, metavar=metavar, choices=choices, help=arg.help)
            else:
                p.add_argument(
                    arg.name, nargs="?" if arg.optional else None, metavar=metavar, choices=choices, help=arg.help
                )
        for flag, text in command.flags:
            p.add_argument(flag, action="store_true", help=text)
        if command.json:
            p.add_argument("--json", action="store_true", help="machine-readable output")
        if command.fresh:
            p.add_argument("--no-ingest", action="store_true", help="answer from stored history without scanning")
    return parser


def cli_help(command: str | None) -> HelpAnswer:
    """`ccci-bot help`: the same help as `!ccci help`, in the command line's spelling and with its own commands."""
    known = cli_commands()
    if command is not None and command not in known:
        raise UsageError(no_such_command(command, list(known)))
    entries = []
    for c in known.values():
        if command is None or c.name == command:
            args = [ArgHelp(a.cli_shown.strip("[]"), a.help, a.optional, a.choices) for a in c.args]
            entries.append(CommandHelp(c.name, c.usage, c.help, False, args))  # no ACL on the host
    return HelpAnswer("ccci-bot", entries, detailed=command is not None)


def config_from(args: argparse.Namespace) -> Config:
    config = load_config(getattr(args, "config", None))
    return config.with_overrides(
        runs_dir=getattr(args, "runs_dir", None),
        warm_dir=getattr(args, "warm_dir", None),
        data_dir=getattr(args, "data_dir", None),
    )


def _emit(data: Any, as_json: bool, text: str, masker: Masker) -> None:
    """Print an answer with the secrets masked, as chat and the pages would show it."""
    print(masker.mask(json.dumps(mask_content(masker, data), indent=2, ensure_ascii=False) if as_json else text))


def _answer(args: argparse.Namespace, config: Config, command: Command, twin: CliCommand) -> int:
    """A chat command's CLI twin: the same handler and renderers as the chat answer."""
    problems = config.problems()
    if problems:
        raise ConfigError("; ".join(problems))
    service = Service(config)
    masker = Masker.from_environment(config.secret_envs)
    try:
        answer = asyncio.run(_call(command, twin, service, vars(args), scan=twin.fresh and not args.no_ingest))
        shown = to_brief(answer) if getattr(args, "brief", False) else to_text(answer)
        _emit(to_json(answer), args.json, shown, masker)
        refused = (isinstance(answer, LearnAnswer) and answer.refused) or (
            isinstance(answer, NoticeAnswer) and not answer.ok
        )
        return EXIT_BAD_INPUT if refused else 0
    finally:
        service.close()


async def _call(command: Command, twin: CliCommand, service: Service, given: dict[str, Any], scan: bool) -> Answer:
    """The scan first when ``scan`` (of what this answer reads), then the handler; the rerun queue's
    commands get a manager to queue and cancel with."""
    if scan:
        await service.ingest(twin.scan_scope(given))
    reruns = _rerun_manager(service) if twin.reruns else None
    confirmed = bool(given.get("apply"))  # --apply, the CLI's confirmation of an acting proposal
    return await command.call(
        Context(service, "ccci-bot", reruns=reruns, commands=registry(), confirmed=confirmed), given
    )


def _rerun_manager(service: Service) -> RerunManager:
    """The queue as the CLI sees it: it queues and cancels, the bot's worker runs."""
    from bot.reruns.manager import RerunManager  # here: the queue and its execution, which no answer needs
    from bot.reruns.preflight import Node

    config = service.config
    node = Node(config.ccci.active_dir, config.docker.base_url, config.docker.allowed_stacks)
    return RerunManager(service, node, _unheard, asyncio.Event(), worker=False)


async def _unheard(rerun: Rerun, kind: NotifyKind, text: str) -> None:
    """The CLI's rerun manager only queues and cancels: there is no news to hear."""


def _report(args: argparse.Namespace, config: Config) -> int:
    problems = config.problems()
    if problems:
        raise ConfigError("; ".join(problems))
    values = Signature("report", cli_commands()["report"].args).values_from(vars(args))
    which, sweep_id = values["which"], values["sweep"]
    assert sweep_id is None or isinstance(sweep_id, str)
    service = Service(config)
    masker = Masker.from_environment(config.secret_envs)
    try:
        report = asyncio.run(_build_report(service, which == "red", sweep_id, scan=not args.no_ingest))
        if isinstance(report, RedReport):
            _emit(render.red_report_json(report), args.json, render.red_report(report).text, masker)
        else:
            shown = render.whole(render.headline(report), render.details(report, config.reports.flip_window))
            _emit(render.sweep_report_json(report), args.json, shown.text, masker)
        return 0
    finally:
        service.close()


async def _build_report(service: Service, red: bool, sweep_id: str | None, scan: bool) -> RedReport | SweepReport:
    """The red report, or a sweep's summary (default: the latest sweep), after a full scan when ``scan``."""
    if scan:
        await service.ingest()
    if red:
        return await service.red_report(time.time())
    if sweep_id is None and await asyncio.to_thread(service.store.sweeps.latest_id) is None:
        raise UsageError("no sweep has been seen yet (check ccci.runs_dir)")
    return await service.sweep_report(sweep_id)


def _help(args: argparse.Namespace) -> int:
    """Needs no config: it describes, it does not look."""
    answer = cli_help(registry()["help"].signature.values_from(vars(args))["about"])  # type: ignore[arg-type]
    _emit(to_json(answer), args.json, to_text(answer), Masker(()))  # help holds no secrets
    return 0


def _rerun(args: argparse.Namespace) -> int:
    from bot.cli.rerun import rerun_command  # here: the queue and its execution, which no answer needs

    values = registry()["rerun"].signature.values_from(vars(args))
    config = config_from(args)
    problems = config.problems()
    if problems:
        raise ConfigError("; ".join(problems))
    return asyncio.run(
        rerun_command(config, str(values["recipe"]), values["version"], values["times"], args.json)  # type: ignore[arg-type]
    )


def doctor_command(args: argparse.Namespace) -> int:
    from bot.doctor import Doctor, diagnose, healthy  # here: its checks use the Matrix client and aiohttp
    from bot.doctor import to_json as doctor_json
    from bot.doctor import to_text as doctor_text

    overrides = {k: getattr(args, k, None) for k in ("runs_dir", "warm_dir", "data_dir")}
    doctor = Doctor(getattr(args, "config", None), os.environ, overrides)
    results = asyncio.run(diagnose(doctor))
    print(doctor_json(results) if args.json else doctor_text(results))
    return 0 if healthy(results) else 1


# The `demo` extra: the sample world runs pytest suites, reads their JUnit and runs a Synapse.
DEMO_MODULES = ("pytest", "synapse", "junitparser", "defusedxml")


def demo_command(args: argparse.Namespace) -> int:
    missing = [m for m in DEMO_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        print(
            f"ccci-bot: the demo needs the sample-world tools, which a plain install leaves out ({', '.join(missing)}"
            " missing); install them with: pip install 'ccci-bot[demo]'  (or run scripts/demo.sh from a checkout)",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    from demo.demo import run_demo  # here: the demo extra may not be installed

    out = Path(args.out) if args.out else Path("demo-data")
    return run_demo(out, config_from(args), chat=not args.no_chat, keep=args.keep)


def web_command(config: Config, listen: str | None) -> int:
    from bot.web.standalone import run_web  # here: aiohttp, which no answer on the host needs

    problems = config.problems()
    address = listen or config.web.listen or "127.0.0.1:8080"
    try:
        listen_address(address, "--listen")
    except ConfigError as exc:
        problems.append(str(exc))
    if problems:
        raise ConfigError("; ".join(problems))
    service_logging(config)
    raise_open_files_limit()
    return asyncio.run(run_web(config, address))


def service_logging(config: Config) -> None:
    """The long-running commands log at ``logging.level`` (or debug with -v) in ``logging.format``."""
    level = min(logging.getLogger().level, getattr(logging, config.logging.level.upper()))
    setup_logging(level, config.logging.format)
    logging.getLogger("nio").setLevel(max(level, logging.WARNING))  # nio logs every event at INFO


def run_command(config: Config) -> int:
    from bot.runtime.bot import run_bot  # here: the Matrix client (nio), which no answer on the host needs

    problems = config.problems() + config.matrix.missing() + config.secret_problems()
    if config.reports.webhook_secret_env and config.web.listen is None:
        problems.append("reports.webhook_secret_env: set web.listen too; the bot's HTTP server serves the hook")
    if problems:
        raise ConfigError("; ".join(problems))
    service_logging(config)
    raise_open_files_limit()
    return asyncio.run(run_bot(config))  # refused credentials (a MatrixError): main's exit 1 with the message


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(logging.DEBUG if getattr(args, "verbose", False) else logging.WARNING)
    command = cli_commands()[args.command]
    try:
        return command.run(args)
    except BadInput as exc:  # what was typed or configured: say what, and how the command is used when that helps
        print(f"ccci-bot: {exc}", file=sys.stderr)
        if exc.show_usage:
            print(f"usage: ccci-bot {command.usage}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except CcciError as exc:  # a store the bot will not use, refused credentials, a backup not made, …
        print(f"ccci-bot: {exc}", file=sys.stderr)
        return 1
    except PermissionError as exc:
        print(
            f"ccci-bot: permission denied: {exc.filename} (set data_dir or --data-dir to a writable dir)",
            file=sys.stderr,
        )
        return 1
    except Exception as exc:  # SQLite finding the store damaged: no traceback
        problem = store_problem(exc)
        if problem is None:
            raise
        print(f"ccci-bot: {problem}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
