"""The bot's memory: SQLite (standard library, WAL) under ``data_dir``."""

from bot.store.db import Store

__all__ = ["Store"]
