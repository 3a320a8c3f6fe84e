"""Reruns on a real Docker engine and single-node swarm (started by the test, stopped by PID): the
stand-in runner (it plays cc-ci's role) deploys the sample recipe as a real stack, runs the tiers
against it and tears it down. Skipped, with the reason shown, where no engine can run."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from msgspec.structs import replace

from bot.model.reruns import AttemptOutcome, RerunState
from bot.reruns.manager import RerunManager
from bot.reruns.preflight import Node
from bot.service import Service
from bot.store.reruns import Rerun
from demo.devserver.dockerd import LocalDockerd, dockerd_available, poll
from demo.sample.generate import GeneratedData
from demo.sample.stack import deploy_stack, remove_stack
from tests.conftest import Site
from tests.test_reruns import Recorder, rerun_config

pytestmark = [
    pytest.mark.slow,
    pytest.mark.dockerd,
    pytest.mark.writes_runs,  # a rerun on a real stack writes its run dir
    pytest.mark.skipif(dockerd_available() is not None, reason=f"no Docker engine here: {dockerd_available()}"),
]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDockerd]:
    dockerd = LocalDockerd(tmp_path_factory.mktemp("dockerd"))
    dockerd.start()
    dockerd.ensure_image()
    yield dockerd
    dockerd.stop()


def docker_config(site: Site, sample: GeneratedData, engine: LocalDockerd, **switches: str):  # type: ignore[no-untyped-def]
    config = rerun_config(site, sample, busy_wait_s=120.0, busy_poll_s=0.2)
    env = (*config.runner.env, ("CCCI_SAMPLE_DOCKER_HOST", engine.base_url), *switches.items())
    return replace(
        config, runner=replace(config.runner, env=env), docker=replace(config.docker, base_url=engine.base_url)
    )


def rerun(config, recipe: str, recorder: Recorder) -> Rerun:  # type: ignore[no-untyped-def]
    async def scenario() -> Rerun:
        service = Service(config)
        node = Node(config.ccci.active_dir, config.docker.base_url, config.docker.allowed_stacks)
        manager = RerunManager(service, node, recorder, asyncio.Event())
        await service.ingest()
        queued, _, _ = await manager.request(recipe, None, 1, "@alice:x")
        await manager.process(queued)
        final = await asyncio.to_thread(manager.store.get, queued.id)
        service.close()
        return final

    return asyncio.run(scenario())


def clean(engine: LocalDockerd) -> None:
    """Remove every stack object a test left (services first, then their networks), for the next test."""
    with engine.client() as client:
        for service in client.services.list():
            service.remove()
        assert poll(lambda: not client.services.list(), 60)
        for network in client.networks.list(filters={"label": "com.docker.stack.namespace"}):
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                network.remove()
        assert poll(lambda: not client.networks.list(filters={"label": "com.docker.stack.namespace"}), 60)


def foreign_stack(engine: LocalDockerd, tmp_path: Path, name: str) -> None:
    compose = tmp_path / f"{name}.yml"
    compose.write_text(
        "version: '3.8'\nservices:\n  app:\n    image: ccci-sample/busybox:1\n"
        "    command: [sleep, '3600']\n    init: true\n    stop_grace_period: 1s\n"
    )
    deploy_stack(engine.base_url, name, compose)


def test_preflight_refuses_while_a_foreign_stack_is_deployed_and_proceeds_once_removed(
    site: Site, sample: GeneratedData, engine: LocalDockerd, tmp_path: Path
) -> None:
    foreign_stack(engine, tmp_path, "otherapp")
    config = docker_config(site, sample, engine)
    recorder = Recorder()
    recorder.on["waiting"] = lambda: remove_stack(engine.base_url, "otherapp")
    final = rerun(config, "immich", recorder)
    waiting = [text for kind, text in recorder.said if kind == "waiting"]
    assert len(waiting) == 1 and "stacks deployed: otherapp" in waiting[0]
    assert final.state is RerunState.DONE and "1 of 1 green" in final.message
    assert "leftover" not in final.message


def test_a_stack_allowed_by_config_does_not_block(
    site: Site, sample: GeneratedData, engine: LocalDockerd, tmp_path: Path
) -> None:
    foreign_stack(engine, tmp_path, "traefik")
    try:
        final = rerun(docker_config(site, sample, engine), "immich", Recorder())
        assert final.state is RerunState.DONE and "1 of 1 green" in final.message
    finally:
        remove_stack(engine.base_url, "traefik")


def test_a_deterministic_failure_on_a_real_stack(site: Site, sample: GeneratedData, engine: LocalDockerd) -> None:
    final = rerun(docker_config(site, sample, engine, CCCI_SAMPLE_FAIL_TIER="restore"), "immich", Recorder())
    assert "0 of 1 green" in final.message and "restore ✗" in final.message


def test_leftovers_after_teardown_are_reported(site: Site, sample: GeneratedData, engine: LocalDockerd) -> None:
    final = rerun(docker_config(site, sample, engine, CCCI_SAMPLE_LEAVE_SERVICE="1"), "immich", Recorder())
    assert "leftover after teardown: service" in final.message
    clean(engine)


def test_a_hung_runner_is_killed_at_the_deadline(site: Site, sample: GeneratedData, engine: LocalDockerd) -> None:
    config = docker_config(site, sample, engine, CCCI_SAMPLE_HANG="1")
    config = replace(config, runner=replace(config.runner, timeout_s=20.0))
    final = rerun(config, "immich", Recorder())
    assert final.attempts[0].outcome is AttemptOutcome.TIMEOUT
    assert "infra/timeout" in final.message
    assert final.attempts[0].leftovers, "a killed runner cannot tear down: the stack must show as a leftover"
    clean(engine)


__all__ = ["sys"]
