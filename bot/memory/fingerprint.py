"""A red run's fingerprint: the tier, test and normalised assertion of its first failure.

The normalisation is the summary clusters' (:func:`bot.verdicts.clusters.normalize`: ids, hosts,
numbers and versions out), so "the same failure" means the same thing in a summary's shared-failure
line and in the operators' memory. The first failure in cc-ci's tier order is the one the reports lead
with; a red without a failing test (results missing, runner cut off) has the empty fingerprint.
"""

from __future__ import annotations

from bot.model.knowledge import Fingerprint
from bot.model.records import Failure
from bot.verdicts.clusters import normalize


def fingerprint(recipe: str, failures: list[Failure]) -> Fingerprint:
    if not failures:
        return Fingerprint("", "", "")
    first = failures[0]
    return Fingerprint(first.tier, first.test, normalize(first.message or first.text, recipe))
