"""ccci-bot: reads cc-ci's run artifacts, keeps their history and explains red recipes."""

__version__ = "0.1.0"
