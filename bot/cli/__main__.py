"""``python -m bot.cli``: the same as the ``ccci-bot`` command."""

import sys

from bot.cli.main import main

if __name__ == "__main__":  # importing the module (a test walking the package) runs nothing
    sys.exit(main())
