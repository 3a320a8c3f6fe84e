"""A throwaway local Matrix homeserver (Synapse) for tests and the demo: see demo.devserver.synapse.

The bot is only trustworthy if it is exercised against a real homeserver (rate limits, sync semantics,
notices), so tests and the demo start one instead of mocking the client API. Nothing is imported here, so
that `python -m demo.devserver.synapse` runs its module once, without runpy's double-import warning.
"""
