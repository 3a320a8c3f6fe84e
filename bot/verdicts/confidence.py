"""Every confidence the verdict engine gives, in one place, each with what it means.

These are judgements, not measurements: each says how often a verdict resting on that evidence
should be right. ``benchmarks/verdicts.py`` checks them against a labelled set (Brier score and a
reliability table per category) and benchmarks/README.md reports what it found. Change a number here, never inline.
"""

from __future__ import annotations

from typing import Final

# A knowledge-base signature alone is a suspicion, never a finding: its weight is capped here.
PATTERN_CAP: Final = 0.65
# Nothing decides the cause: no rerun, no canonical after the red, no signature, no shared cause — or it fails
# every time (alone, or the same way across sweeps) but nothing names why. ``unknown`` claims no cause, so
# this stays low whatever the failure's determinism: what the verdict rests on is its strength, not this.
UNKNOWN: Final = 0.3

# Red in the sweep, green in an isolation rerun of the same version (or a canonical written after the red).
FLAKE_GREEN_ALONE: Final = 0.8
# Both: green alone and a canonical after the red.
FLAKE_GREEN_AND_CANONICAL: Final = 0.9
# Each further green isolation rerun adds this much.
FLAKE_PER_EXTRA_GREEN: Final = 0.03
# No rerun evidence makes a flake surer than this.
FLAKE_CAP: Final = 0.95
# The same test failed in some isolation reruns and passed in others: the base, per rerun, the cap.
INTERMITTENT_BASE: Final = 0.6
INTERMITTENT_PER_RERUN: Final = 0.05
INTERMITTENT_CAP: Final = 0.8
# One version flipping red/green twice or more across its recent runs, with no rerun of it.
FLIPPING: Final = 0.6

# Red again alone with the same failing test: once, and twice or more.
DETERMINISTIC_ONCE: Final = 0.85
DETERMINISTIC_REPEATED: Final = 0.92
# A recipe-/upstream-defect signature agreeing with a deterministic rerun adds this much (capped at FLAKE_CAP).
DETERMINISTIC_SIGNATURE_BONUS: Final = 0.03
# Red the same way (same test, same normalised failure) in two consecutive sweeps, without an isolation rerun,
# and a recipe-/upstream-defect signature or a peer's compose difference naming the cause: more than a pattern
# alone (the failure repeats), less than reproduced alone (a failure under sweep load can repeat under it).
REPEATED_TWICE: Final = 0.75
# The same over three or more consecutive sweeps.
REPEATED_MORE: Final = 0.8

# An isolation rerun red on another tier or test than the sweep run: the two disagree, so whatever
# the rerun's own failure suggests is capped here (below a pattern alone's cap when it is only a pattern).
DISAGREEING_RERUN_CAP: Final = 0.55
# ... and when the rerun's own failure matches no signature (red alone, on another test): lower still.
DISAGREEING_RERUN_UNEXPLAINED: Final = 0.45
# The sweep's failure reproduced in some isolation reruns, while others failed elsewhere.
PARTLY_REPRODUCED: Final = 0.7

# Unverified tiers, harness errors, a runner that died or was cut off: the CI failed, not the recipe.
INFRA_STRUCTURAL: Final = 0.85
# The same, with an infra signature agreeing.
INFRA_STRUCTURAL_WITH_SIGNATURE: Final = 0.9
# The same run's own record says it tested nothing about the recipe, and the version then passed alone (or a
# canonical for it came after): infra, settled — the green says the recipe is fine, the record says why it was red.
INFRA_GREEN_ALONE: Final = 0.9
# Three or more recipes of one sweep failing the same way in the same tier, in machinery they share.
SHARED_CAUSE: Final = 0.7

# An overlay test expecting a state that exists in no release and not in main (the recipe clone says so).
STALE_FACT: Final = 0.8
# The same, with an isolation rerun failing the same way.
STALE_CONFIRMED: Final = 0.95
# Found only in main (unreleased): the test is ahead of the release, a little less certain a stale test.
STALE_MAIN_ONLY_PENALTY: Final = 0.05

# A probe found what the failure says is gone really absent (the image tag is not in its registry):
# a fact checked now, as sure as a failure reproduced in repeated isolation reruns.
PROBE_ABSENT: Final = 0.92

# A peer's compose differs from this recipe's in the labels the failing test depends on.
PEER_LABELS_BONUS: Final = 0.03

ALL: Final = {name: value for name, value in globals().items() if name.isupper() and isinstance(value, float)}
