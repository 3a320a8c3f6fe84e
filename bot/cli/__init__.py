"""The ``ccci-bot`` command line (:mod:`bot.cli.main`; the rerun queue's waiting form in :mod:`bot.cli.rerun`).

``main`` is the console script's entry point (``ccci-bot = "bot.cli:main"``).
"""

from bot.cli.main import main

__all__ = ["main"]
