"""The bot's memory: SQLite (standard library, WAL) under ``data_dir``."""

from bot.store.db import Store
from bot.store.errors import StoreError, store_problem

__all__ = ["Store", "StoreError", "store_problem"]
