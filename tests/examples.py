"""How many examples a property test draws: as many as it asks for in the full suite, a third in the fast tier.

``scripts/test.sh --fast`` sets ``CCCI_FAST_TIER=1``. The full suite, which CI runs, draws every example
a test asks for; the fast tier, run after every change, trades that depth for the minute it is meant to
take (the properties' draws were ~9 s of its CPU).
"""

from __future__ import annotations

import os

FAST_TIER = os.environ.get("CCCI_FAST_TIER") == "1"


def examples(wanted: int) -> int:
    """``wanted`` in the full suite; a third of it (at least 25) in the fast tier."""
    return max(25, wanted // 3) if FAST_TIER else wanted
