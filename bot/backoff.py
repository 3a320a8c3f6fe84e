"""Waiting in the bot's loops: exponential backoff with full jitter (so a fleet of retries does not
hammer a homeserver in step), and idle waits that end at once when the bot stops."""

from __future__ import annotations

import asyncio
import random


class Backoff:
    def __init__(self, minimum: float, maximum: float, rng: random.Random | None = None) -> None:
        self.minimum = minimum
        self.maximum = max(maximum, minimum)
        self.failures = 0
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography

    def reset(self) -> None:
        self.failures = 0

    def next_delay(self) -> float:
        """The delay after one more failure: uniform in [min, min·2ⁿ] capped at max."""
        self.failures += 1
        ceiling = min(self.maximum, self.minimum * 2 ** min(self.failures - 1, 30))
        return self.rng.uniform(self.minimum, ceiling)


async def sleep_unless(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep, but wake at once when ``stop`` is set; True when stopping."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=max(0.0, seconds))
    except TimeoutError:
        return False
    return True


async def wait_for_wake(wake: asyncio.Event, stop: asyncio.Event, timeout: float | None = None) -> None:
    """The idle wait of a worker loop: until ``wake`` or ``stop`` is set, or ``timeout`` passes.

    Does not clear ``wake``: each loop clears it before reading its work, so a wake-up that comes
    while it works is never lost.
    """
    waiter = asyncio.ensure_future(wake.wait())
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({waiter, stopper}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        stopper.cancel()
