"""Scaffolding for the demo, the benchmarks and the tests, kept apart from the bot's runtime.

The sample cc-ci world (generated run dirs from really running sample pytest suites, a stand-in
runner), the local Synapse and dockerd services, and the scripted operator live here. Nothing on the
bot's runtime path imports this package: `ccci-bot demo` loads it only when asked, and a test checks
the boundary.
"""
