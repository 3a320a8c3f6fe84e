"""cc-ci's checks of the live stack, in every tier: the deployment is still whole."""

import os


def test_every_service_has_a_running_task(live):
    running = live.running_tasks()
    assert running, f"no service labelled for stack {live.name}"
    idle = sorted(name for name, count in running.items() if count < 1)
    assert not idle, f"services without a running task: {idle}"


def test_replicas_as_expected(live):
    expected = int(os.environ.get("CCCI_SAMPLE_EXPECT_REPLICAS", "1"))
    assert live.replicas() == dict.fromkeys(live.service_names(), expected)
