"""The bot's memory: SQLite (standard library, WAL) under ``data_dir``."""

from bot.store.db import STORE_WRITE_ERRORS, Store
from bot.store.errors import StoreError, store_problem

__all__ = ["STORE_WRITE_ERRORS", "Store", "StoreError", "store_problem"]
