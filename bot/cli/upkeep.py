"""The operator's upkeep subcommands: ``check-config``, ``backup`` and ``repair-store``. They read a
config file or the store and answer no chat question, so they live beside the CLI's table, not in it."""

from __future__ import annotations

import sys
from pathlib import Path

from bot.config import Config, load_config
from bot.errors import EXIT_BAD_INPUT
from bot.store import StoreError
from bot.store.backup import backup
from bot.store.check import repair_file
from commands import UsageError


def knowledge_warnings(config: Config) -> list[str]:
    """The signatures the bot would skip (a pattern RE2 cannot run, a bad file, …), each with its reason."""
    from bot.kb import load_kb  # here: parsing the knowledge base is this check's whole job

    return [f"knowledge: {p}" for p in load_kb(config.knowledge.dirs).problems]


def check_config(path: Path) -> int:
    config = load_config(path)
    problems = config.problems()
    for w in config.warnings():
        print(f"warning: {w}")
    for w in knowledge_warnings(config):
        print(f"warning: {w}")
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    if problems:
        return EXIT_BAD_INPUT
    print(f"{path}: ok (runs {config.ccci.runs_dir}, warm {config.ccci.warm_dir}, data {config.data_dir})")
    return 0


def backup_command(config: Config, dest: Path) -> int:
    if dest.exists():
        raise UsageError(f"{dest} exists; choose a new file (a backup never overwrites one)")
    result = backup(config.db_path, dest)  # a BackupError is main's: exit 1 with its message
    print(f"{config.db_path} → {result.path}: {result.bytes} bytes, schema v{result.schema_version}, integrity ok")
    return 0


def repair_store_command(config: Config) -> int:
    try:
        done, kept = repair_file(config.db_path)
    except StoreError as exc:
        print(f"ccci-bot: the store {config.db_path}: {exc}", file=sys.stderr)
        return 1
    if kept is None:
        print(f"{config.db_path}: its schema is what this bot's migrations define; nothing to repair")
        return 0
    for obj in done.dropped:
        print(f"dropped {obj}")
    for obj in done.made:
        print(f"made {obj} again from the migrations")
    print(f"{config.db_path}: repaired; the store as it was is kept in {kept}")
    return 0
