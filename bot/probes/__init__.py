"""Probes: quick, read-only checks of what a failure names, so a verdict rests on a fact, not a pattern.

A red that says "manifest unknown" waits an hour for an isolation rerun that a registry answers in a
second. A probe reads the text a signature matched (a :class:`~bot.probes.records.Clue`), names what it
would look up there (a :class:`~bot.probes.records.Subject`: an image tag), and asks (a
:class:`~bot.probes.records.Finding`: absent, present, or no answer). :mod:`bot.probes.runner` is the one
place that runs the configured probes, each within a timeout and behind a short cache, so fifty reds
naming one tag ask its registry once. :mod:`bot.verdicts.facts` feeds it and hands the findings to the
engine as facts.

Probes so far: :mod:`bot.probes.registry` (an image tag, asked of its registry over the v2 API). A new
one is a module with a :class:`~bot.probes.records.Probe` and a line in :func:`bot.probes.runner.configured`.
"""
