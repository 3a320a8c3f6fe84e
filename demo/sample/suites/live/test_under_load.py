"""cc-ci overlay-style probe: a client handshake within its budget; slower while other stacks share the node."""

HANDSHAKE_TIMEOUT_S = 10
HANDSHAKE_S = 3.5
LOADED_SLOWDOWN = 3.4


def test_handshake_within_budget(live, allowed_stacks):
    busy = live.neighbours(allowed_stacks)
    took = HANDSHAKE_S * (LOADED_SLOWDOWN if busy else 1.0)
    if took > HANDSHAKE_TIMEOUT_S:
        raise TimeoutError(f"handshake did not complete within {HANDSHAKE_TIMEOUT_S}s (channel presence not seen)")
    assert live.running_tasks()
