"""What a verdict rests on, in words: what people read where a confidence number meant little to them.

The number stays in JSON (and decides what the bot reruns by itself); chat, summaries and pages show
the category with these words, e.g. "unknown (reproduced alone)" or "flake (settled by isolation reruns)".
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from bot.model.records import Strength, Verdict, VerdictOrigin

WORDS: Final[Mapping[Strength, str]] = MappingProxyType(
    {
        Strength.RERUNS: "settled by isolation reruns",
        Strength.GREEN_LATER: "green again in a later run",
        Strength.REPRODUCED: "reproduced alone",
        Strength.REPEATED: "red the same way across sweeps",
        Strength.PROBED: "checked by a probe",
        Strength.CHECKED: "checked against the recipe's releases",
        Strength.RUN_RECORD: "the run's own record",
        Strength.RERUNS_DISAGREE: "isolation reruns disagree",
        Strength.SHARED: "several recipes fail alike",
        Strength.PATTERN: "pattern only",
        Strength.NOTHING: "nothing decides it yet",
    }
)


def strength_words(v: Verdict) -> str:
    """What the verdict rests on, in words; "" for one decided before strengths were recorded."""
    return WORDS[v.strength] if v.strength is not None else ""


def rests_on(v: Verdict) -> str:
    """What a verdict rests on, in words: its strength's, or "by hand: @alice" for a verdict an operator
    gave; "" for a verdict stored before strengths were recorded."""
    if v.source is VerdictOrigin.OPERATOR:
        return f"by hand: {v.by}" if v.by else "by hand"
    return strength_words(v)


def verdict_label(v: Verdict) -> str:
    """The category and what it rests on, without a number: "infra (the run's own record)", or
    "stale-test (by hand: @alice)" for a verdict an operator gave."""
    words = rests_on(v)
    return f"{v.category} ({words})" if words else str(v.category)
