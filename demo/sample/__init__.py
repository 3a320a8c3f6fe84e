"""Sample cc-ci data: a small world of recipes and runs, produced by really running pytest tiers.

Tests and the demo need cc-ci artifacts (run dirs, JUnit, logs, results.json, warm canonicals)
without a real cc-ci host. `generate` builds them with a stand-in runner so that every JUnit file
is genuine pytest output and every failure is a real assertion against a simulated deployment.
"""
