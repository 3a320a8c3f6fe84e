"""Evidence that disagrees with a verdict given by hand. The operator's verdict still wins (it is never
flipped silently either way); the answer shows it beside the rules' verdict and names what disagrees."""

from __future__ import annotations

from bot.artifacts.timefmt import short
from bot.model.knowledge import HandVerdict
from bot.model.records import Category, RunKind, RunRow, RunStatus, Verdict

# Causes that fail every run of the version: a green isolation rerun contradicts them.
DETERMINISTIC = frozenset({Category.RECIPE_DEFECT, Category.STALE_TEST, Category.UPSTREAM_DEFECT})
REDS_AGAINST_FLAKE = 2  # isolation reruns, all red, that make "flake" doubtful


def disagreeing(hand: HandVerdict, reruns: list[RunRow], rules: Verdict | None) -> list[str]:
    """Sentences naming each piece of evidence that disagrees with ``hand``."""
    isolated = [r for r in reruns if r.kind is RunKind.ISOLATION and not r.unverified]
    found = []
    if hand.category in DETERMINISTIC:
        for r in isolated:
            if r.status is RunStatus.GREEN:
                found.append(
                    f"isolation rerun {r.run_id} of {r.version} went green ({short(r.finished)}); "
                    f"a {hand.category} would fail every time"
                )
    if hand.category is Category.FLAKE:
        reds = [r for r in isolated if r.status is RunStatus.RED]
        if len(reds) >= REDS_AGAINST_FLAKE and len(reds) == len(isolated):
            found.append(
                f"{len(reds)} isolation reruns of {reds[0].version}, all red ({', '.join(r.run_id for r in reds)}); "
                "a flake would pass some"
            )
    if rules is not None and rules.category not in (hand.category, Category.UNKNOWN):
        found.append(f"the rules decide {rules.category} ({rules.confidence:.0%}): {rules.reason}")
    return found
