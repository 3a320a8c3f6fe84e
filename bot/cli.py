"""``ccci-bot`` command line: the same answers as the chat commands, for an operator's terminal.

Exit codes: 0 answered; 2 bad input (unknown recipe, bad arguments, invalid config); 1 anything else.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot import __version__
from bot.config import Config, ConfigError, listen_address, load_config
from bot.masking import Masker, mask_content
from bot.names import UnknownNameError
from bot.render import to_json, to_text
from bot.render.jsonview import ingest_json, reclassify_json
from bot.render.text import ingest_text, reclassify_text
from bot.service import Service
from commands import Context, UsageError, registry

EXIT_BAD_INPUT = 2


def _common() -> argparse.ArgumentParser:
    # SUPPRESS: the flags may come before or after the subcommand without one erasing the other.
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="YAML config file (default: none)")
    p.add_argument("--runs-dir", type=Path, default=argparse.SUPPRESS, help="override ccci.runs_dir")
    p.add_argument("--warm-dir", type=Path, default=argparse.SUPPRESS, help="override ccci.warm_dir")
    p.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS, help="override data_dir")
    p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="debug logging")
    return p


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="ccci-bot", parents=[common], description="Explain cc-ci's red recipes from its run artifacts."
    )
    parser.add_argument("--version", action="version", version=f"ccci-bot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("check-config", parents=[common], help="validate a config file and the dirs it names")
    p.add_argument("file", type=Path)

    p = sub.add_parser("ingest", parents=[common], help="scan the runs dir now and print what was new")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("why", parents=[common], help="latest evidence for a recipe")
    p.add_argument("recipe")
    p.add_argument("--json", action="store_true", help="machine-readable output (documented shape)")
    p.add_argument("--no-ingest", action="store_true", help="answer from stored history without scanning")

    p = sub.add_parser("summary", parents=[common], help="the latest sweep, every recipe with its status")
    p.add_argument("sweep", nargs="?", help="a sweep id (default: the latest)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--no-ingest", action="store_true", help="answer from stored history without scanning")

    p = sub.add_parser("report", parents=[common], help="print a sweep summary or the red report (posts nothing)")
    p.add_argument("which", choices=("sweep", "red"), help="sweep: a sweep's summary; red: the current reds")
    p.add_argument("sweep", nargs="?", help="with `sweep`: a sweep id (default: the latest)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--no-ingest", action="store_true", help="answer from stored history without scanning")

    p = sub.add_parser("rerun", parents=[common], help="re-run a recipe alone on the CI node and report the result")
    p.add_argument("recipe")
    p.add_argument("--version", help="the version to run (default: the one the latest sweep tested)")
    p.add_argument("--times", type=int, default=1, help="repeat the isolated run N times (k-of-N)")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("run", parents=[common], help="run the Matrix bot (needs the matrix section of the config)")

    p = sub.add_parser("web", parents=[common], help="serve the evidence pages alone (no chat)")
    p.add_argument("--listen", help="HOST:PORT (default: web.listen, else 127.0.0.1:8080)")

    p = sub.add_parser("reclassify", parents=[common], help="re-apply the current knowledge base to stored history")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("demo", parents=[common], help="generate sample cc-ci data and run the main job on it")
    p.add_argument("--out", type=Path, default=Path("demo-data"), help="where sample data goes (default: ./demo-data)")
    p.add_argument("--no-chat", action="store_true", help="skip the local Synapse + bot + operator part")
    p.add_argument("--keep", action="store_true", help="keep Synapse and the bot running; print how to log in")
    return parser


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


async def _answer(args: argparse.Namespace, config: Config) -> int:
    problems = config.problems()
    if problems:
        raise ConfigError("; ".join(problems))
    service = Service(config)
    masker = Masker.from_environment(config.secret_envs)
    try:
        if args.command == "ingest":
            report = await service.ingest()
            _emit(ingest_json(report), args.json, ingest_text(report), masker)
            return 0
        if args.command == "reclassify":
            await service.ingest()
            done = await service.reclassify()
            _emit(reclassify_json(done, service.kb), args.json, reclassify_text(done, service.kb), masker)
            return 0
        if not args.no_ingest:
            await service.ingest()
        if args.command == "report":
            return await _report(service, args, masker)
        command_args = [args.recipe] if args.command == "why" else ([args.sweep] if args.sweep else [])
        answer = await registry()[args.command].handler(Context(service), command_args)
        _emit(to_json(answer), args.json, to_text(answer), masker)
        return 0
    finally:
        service.close()


async def _report(service: Service, args: argparse.Namespace, masker: Masker) -> int:
    from bot.render import reports as render

    if args.which == "red":
        red = await service.red_report(time.time())
        _emit(render.red_report_json(red), args.json, render.red_report(red).text, masker)
        return 0
    if args.sweep is None and await asyncio.to_thread(service.store.latest_sweep_id) is None:
        raise UsageError("no sweep has been seen yet (check ccci.runs_dir)")
    sweep = await service.sweep_report(args.sweep)
    shown = render.whole(render.headline(sweep), render.details(sweep, service.config.reports.flip_window))
    _emit(render.sweep_report_json(sweep), args.json, shown.text, masker)
    return 0


def check_config(path: Path) -> int:
    config = load_config(path)
    problems = config.problems()
    for w in config.warnings():
        print(f"warning: {w}")
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    if problems:
        return EXIT_BAD_INPUT
    print(f"{path}: ok (runs {config.ccci.runs_dir}, warm {config.ccci.warm_dir}, data {config.data_dir})")
    return 0


def web_command(config: Config, listen: str | None) -> int:
    from bot.web.standalone import run_web

    problems = config.problems()
    address = listen or config.web.listen or "127.0.0.1:8080"
    try:
        listen_address(address, "--listen")
    except ConfigError as exc:
        problems.append(str(exc))
    if problems:
        raise ConfigError("; ".join(problems))
    logging.getLogger().setLevel(min(logging.getLogger().level, logging.INFO))
    return asyncio.run(run_web(config, address))


def run_command(config: Config) -> int:
    from bot.app import run_bot

    problems = config.problems() + config.matrix.missing() + config.secret_problems()
    if config.reports.webhook_secret_env and config.web.listen is None:
        problems.append("reports.webhook_secret_env: set web.listen too; the bot's HTTP server serves the hook")
    if problems:
        raise ConfigError("; ".join(problems))
    logging.getLogger().setLevel(min(logging.getLogger().level, logging.INFO))
    logging.getLogger("nio").setLevel(logging.WARNING)  # nio logs every event at INFO
    return asyncio.run(run_bot(config))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.command == "check-config":
            return check_config(args.file)
        if args.command == "rerun":
            from bot.reruns.cli import rerun_command
            from commands import recipe_arg

            problems = config_from(args).problems()
            if problems:
                raise ConfigError("; ".join(problems))
            return asyncio.run(
                rerun_command(config_from(args), recipe_arg(args.recipe), args.version, args.times, args.json)
            )
        if args.command == "run":
            return run_command(config_from(args))
        if args.command == "web":
            return web_command(config_from(args), args.listen)
        if args.command == "demo":
            from bot.scaffold.demo import run_demo

            return run_demo(args.out, config_from(args), chat=not args.no_chat, keep=args.keep)
        return asyncio.run(_answer(args, config_from(args)))
    except (ConfigError, UsageError) as exc:
        print(f"ccci-bot: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except UnknownNameError as exc:
        print(f"ccci-bot: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except PermissionError as exc:
        print(
            f"ccci-bot: permission denied: {exc.filename} (set data_dir or --data-dir to a writable dir)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
