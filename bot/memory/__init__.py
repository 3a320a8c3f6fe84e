"""The operators' memory: failure fingerprints, and what a red inherits from what was recorded about
an earlier one (issue links, verdicts given by hand, mutes), or no longer inherits when it fails differently."""
