"""`calibration`: the rules' automatic verdicts measured against the operators' verdicts given by hand.

Each hand verdict names the run it was given on; the rules' verdict of that same run (as `why` shows it
beside the operator's: stored, or decided again when the knowledge base changed) is right when its
category is the operator's. Accuracy is the share right; the Brier score is the mean of
(confidence − right)², so a rule that is sure and wrong costs most. The operators are the reference
here, not a model the project wrote itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.model.answers import CalibrationAnswer, CalibrationSource
from bot.model.records import Verdict
from bot.store import Store
from bot.verdicts.cache import Verdicts

UNNAMED_RULE = "unnamed"  # verdicts stored before the engine's rules had names


@dataclass(frozen=True)
class _Pair:
    rule: str
    confidence: float
    right: bool


def calibration(store: Store, verdicts: Verdicts | None) -> CalibrationAnswer:
    pairs: list[_Pair] = []
    without = 0
    for knowledge in store.knowledge.everything().values():
        for hand in knowledge.verdicts:
            rules = _rules_verdict(store, verdicts, hand.recipe, hand.run_id)
            if rules is None:
                without += 1
                continue
            pairs.append(_Pair(rules.rule or UNNAMED_RULE, rules.confidence, rules.category is hand.category))
    if not pairs:
        return CalibrationAnswer(0, None, None, [], without)
    by_rule: dict[str, list[_Pair]] = {}
    for p in pairs:
        by_rule.setdefault(p.rule, []).append(p)
    sources = [
        CalibrationSource(rule, len(ps), _accuracy(ps), sum(p.confidence for p in ps) / len(ps))
        for rule, ps in by_rule.items()
    ]
    sources.sort(key=lambda s: (-s.n, s.rule))
    brier = sum((p.confidence - p.right) ** 2 for p in pairs) / len(pairs)
    return CalibrationAnswer(len(pairs), _accuracy(pairs), brier, sources, without)


def _accuracy(pairs: list[_Pair]) -> float:
    return sum(p.right for p in pairs) / len(pairs)


def _rules_verdict(store: Store, verdicts: Verdicts | None, recipe: str, run_id: str | None) -> Verdict | None:
    """The rules' verdict of the run the hand verdict was given on (never the operator's own)."""
    if run_id is None:
        return None
    if verdicts is not None:
        found = verdicts.for_run(recipe, run_id)
        return found[0] if found is not None else None
    stored = store.verdicts.get(run_id)
    return stored.verdict if stored is not None else None
