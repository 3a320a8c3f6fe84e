"""The stand-in runner in docker mode: real swarm stacks on a private engine, and the faults it can play there."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import defusedxml.ElementTree
import docker
import pytest
import yaml
from junitparser import Failure, JUnitXml

from demo.devserver.dockerd import IMAGE_TAG, LocalDockerd, poll
from demo.sample.generate import GeneratedData
from demo.sample.model import TIERS
from demo.sample.results import is_green
from demo.sample.stack import (
    LEFTOVER_SERVICE,
    deploy_stack,
    leftovers,
    neighbours,
    remove_stack,
    running_tasks,
    stack_name,
    wait_gone,
)
from demo.sample.standin_runner import (
    LiveOptions,
    RunOutcome,
    RunRequest,
    live_from_env,
    request_from_env,
    run_recipe,
)
from tests.tiers import DOCKERD_UNAVAILABLE as UNAVAILABLE
from tests.tiers import needs_dockerd

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDockerd]:
    """One private engine for the module's runs (each run removes its own stack)."""
    if UNAVAILABLE is not None:
        pytest.skip(f"no private dockerd here: {UNAVAILABLE}")
    dockerd = LocalDockerd(tmp_path_factory.mktemp("dockerd"))
    dockerd.start()
    try:
        dockerd.ensure_image()
        yield dockerd
    finally:
        dockerd.stop()


@pytest.fixture
def client(engine: LocalDockerd) -> Iterator[docker.DockerClient]:
    with engine.client() as sdk:
        yield sdk


def latest(sample: GeneratedData, recipe: str) -> str:
    """The version of a recipe's last run in the sample world (a real tag of its repo)."""
    return sample.runs_of(recipe)[-1].version


def request(sample: GeneratedData, runs_dir: Path, recipe: str, run_id: str, live: LiveOptions) -> RunRequest:
    return RunRequest(recipe, latest(sample, recipe), run_id, runs_dir, sample.recipes_src, live=live)


def rungs(results: dict) -> dict[str, str]:
    return {stage["name"]: stage["status"] for stage in results["stages"]}


def failures(junit: Path) -> dict[str, str]:
    """Failed testcases of a JUnit file: name -> failure message."""
    out = {}
    for suite in JUnitXml.fromfile(str(junit), parse_func=defusedxml.ElementTree.parse):
        for case in suite:
            for result in case.result:
                if isinstance(result, Failure):
                    out[case.name] = result.message or ""
    return out


def deploy_neighbour(engine: LocalDockerd, tmp_path: Path, client: docker.DockerClient, name: str) -> None:
    """Another stack on the node, as a concurrent sweep run (or node infrastructure) would have it."""
    service = {"image": IMAGE_TAG, "command": ["tail", "-f", "/dev/null"], "init": True, "stop_grace_period": "1s"}
    compose = tmp_path / f"{name}.yml"
    compose.write_text(yaml.safe_dump({"version": "3.8", "services": {"app": service}}))
    deploy_stack(engine.base_url, name, compose)
    assert poll(lambda: running_tasks(client, name).get("app", 0) == 1, 60)


def remove_all(engine: LocalDockerd, client: docker.DockerClient, *stacks: str) -> None:
    for stack in stacks:
        with contextlib.suppress(Exception):
            remove_stack(engine.base_url, stack)
    for stack in stacks:
        assert wait_gone(client, stack).empty


def assert_no_trace(client: docker.DockerClient, outcome: RunOutcome, stack: str) -> None:
    left = leftovers(client, stack)
    assert left.empty, left.describe()
    assert outcome.results is not None and outcome.results["flags"]["clean_teardown"] is True


# -- without an engine --------------------------------------------------------------------------


def test_minimal_env_is_enough() -> None:
    env = {"RECIPE": "mumble", "CCCI_SAMPLE_VERSION": "1.0.0+v1.6.870-0", "CCCI_SAMPLE_RECIPES_SRC": "/src"}
    req = request_from_env(env)
    assert (req.version, req.run_id, req.runs_dir, req.live) == (
        "1.0.0+v1.6.870-0",
        f"manual-{os.getpid()}",
        Path("/var/lib/cc-ci-runs"),
        None,
    )
    with pytest.raises(ValueError, match="RECIPE"):
        request_from_env({"VERSION": "1", "CCCI_SAMPLE_RECIPES_SRC": "/src"})


def test_fault_switches_need_an_engine_and_name_tiers() -> None:
    with pytest.raises(ValueError, match="CCCI_SAMPLE_HANG need CCCI_SAMPLE_DOCKER_HOST"):
        live_from_env({"CCCI_SAMPLE_HANG": "1"})
    with pytest.raises(ValueError, match="unknown tier 'deploy'"):
        live_from_env({"CCCI_SAMPLE_DOCKER_HOST": "unix:///x.sock", "CCCI_SAMPLE_FAIL_TIER": "deploy"})
    live = live_from_env(
        {"CCCI_SAMPLE_DOCKER_HOST": "unix:///x.sock", "CCCI_SAMPLE_FLAKY_UNDER_LOAD": "1", "CCCI_SAMPLE_HANG": "backup"}
    )
    assert live == LiveOptions("unix:///x.sock", flaky_tier="custom", hang_tier="backup")


def test_runner_cli_without_an_engine(sample: GeneratedData, tmp_path: Path) -> None:
    """The plain command with the minimal env: green, results.json last, real times."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CCCI_", "RUN_ID", "VERSION", "RECIPE"))},
        "RECIPE": "immich",
        "CCCI_SAMPLE_VERSION": latest(sample, "immich"),
        "CCCI_RUNS_DIR": str(tmp_path),
        "CCCI_SAMPLE_RECIPES_SRC": str(sample.recipes_src),
    }
    before = datetime.now(UTC).replace(microsecond=0)
    done = subprocess.run(
        [sys.executable, "-m", "demo.sample.standin_runner"], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    run_dir = Path(done.stdout.strip())
    assert run_dir.parent == tmp_path and run_dir.name.startswith("manual-")
    results = json.loads((run_dir / "results.json").read_text())
    started = datetime.fromisoformat(results["started"].replace("Z", "+00:00"))
    finished = datetime.fromisoformat(results["finished"].replace("Z", "+00:00"))
    assert before <= started <= finished <= datetime.now(UTC)


# -- on a private engine ------------------------------------------------------------------------


@needs_dockerd
@pytest.mark.slow
def test_green_run_deploys_and_removes_a_real_stack(
    engine: LocalDockerd, client: docker.DockerClient, sample: GeneratedData, tmp_path: Path
) -> None:
    req = request(sample, tmp_path, "immich", "manual-101", LiveOptions(engine.base_url))
    stack = stack_name(req.domain)
    assert stack == "immich-manual-101_ci_example_org"
    before = datetime.now(UTC).replace(microsecond=0)
    outcome = run_recipe(req)

    assert outcome.results is not None and is_green(outcome.results), rungs(outcome.results or {})
    assert rungs(outcome.results) == dict.fromkeys(TIERS, "pass")
    assert before <= datetime.fromisoformat(outcome.results["finished"].replace("Z", "+00:00"))
    for tier in TIERS:
        live_junit = outcome.run_dir / "junit" / f"{tier}__cc-ci__test_stack.xml"
        cases = [case.name for suite in JUnitXml.fromfile(str(live_junit)) for case in suite]
        assert cases == ["test_every_service_has_a_running_task", "test_replicas_as_expected"]
    compose = yaml.safe_load((outcome.run_dir / "abra" / f"{stack}.compose.yml").read_text())
    assert sorted(compose["services"]) == ["app", "database", "machine_learning", "redis"]
    assert compose["services"]["app"]["deploy"]["labels"][f"coop-cloud.{stack}.version"] == req.version

    log = (outcome.run_dir / "run.log").read_text()
    assert f"Creating service {stack}_machine_learning" in log
    assert "deploy: UpdateStatus=completed" in log
    assert f"teardown: stack {stack} removed" in log
    written = (outcome.run_dir / "results.json").stat().st_mtime_ns
    assert all(p.stat().st_mtime_ns <= written for p in outcome.run_dir.rglob("*") if p.is_file())
    assert_no_trace(client, outcome, stack)


@needs_dockerd
@pytest.mark.slow
def test_fail_tier_fails_that_tier_against_the_stack(
    engine: LocalDockerd, client: docker.DockerClient, sample: GeneratedData, tmp_path: Path
) -> None:
    req = request(sample, tmp_path, "mumble", "manual-102", LiveOptions(engine.base_url, fail_tier="backup"))
    outcome = run_recipe(req)

    assert outcome.results is not None and not is_green(outcome.results)
    assert rungs(outcome.results) == {**dict.fromkeys(TIERS, "pass"), "backup": "fail"}
    failed = failures(outcome.run_dir / "junit" / "backup__cc-ci__test_stack.xml")
    assert list(failed) == ["test_replicas_as_expected"]
    assert "{'app': 1} == {'app': 2}" in failed["test_replicas_as_expected"]
    assert_no_trace(client, outcome, req.stack)


@needs_dockerd
@pytest.mark.slow
def test_flaky_under_load_is_green_alone_and_red_next_to_another_stack(
    engine: LocalDockerd, client: docker.DockerClient, sample: GeneratedData, tmp_path: Path
) -> None:
    live = LiveOptions(engine.base_url, flaky_tier="custom")
    infra, load = "traefik_ci_example_org", "gitea-757_ci_example_org"
    deploy_neighbour(engine, tmp_path, client, infra)  # node infrastructure: not load
    try:
        alone = run_recipe(request(sample, tmp_path, "hedgedoc", "manual-103", live))
        assert alone.results is not None and rungs(alone.results) == dict.fromkeys(TIERS, "pass")
        assert (alone.run_dir / "junit" / "custom__cc-ci__test_under_load.xml").is_file()

        deploy_neighbour(engine, tmp_path, client, load)
        assert neighbours(client, "hedgedoc-manual-104_ci_example_org") == [load]  # what the probe will see
        req = request(sample, tmp_path, "hedgedoc", "manual-104", live)
        loaded = run_recipe(req)
    finally:
        remove_all(engine, client, infra, load)

    assert loaded.results is not None
    assert rungs(loaded.results) == {**dict.fromkeys(TIERS, "pass"), "custom": "fail"}
    failed = failures(loaded.run_dir / "junit" / "custom__cc-ci__test_under_load.xml")
    timeout = "TimeoutError: handshake did not complete within 10s (channel presence not seen)"
    assert failed == {"test_handshake_within_budget": timeout}
    assert_no_trace(client, loaded, req.stack)


@needs_dockerd
@pytest.mark.slow
def test_leave_service_leaves_a_labelled_service_behind(
    engine: LocalDockerd, client: docker.DockerClient, sample: GeneratedData, tmp_path: Path
) -> None:
    req = request(sample, tmp_path, "mumble", "manual-105", LiveOptions(engine.base_url, leave_service=True))
    try:
        outcome = run_recipe(req)
        left = leftovers(client, req.stack)
        assert left.services == (f"{req.stack}_{LEFTOVER_SERVICE}",)
        assert left.networks == ()
        assert outcome.results is not None and outcome.results["flags"]["clean_teardown"] is False
        assert rungs(outcome.results) == dict.fromkeys(TIERS, "pass")  # the tiers themselves were fine
        assert (
            f"teardown: FAILED, left behind: service {req.stack}_{LEFTOVER_SERVICE}"
            in (outcome.run_dir / "run.log").read_text()
        )
    finally:
        label = {"label": f"com.docker.stack.namespace={req.stack}"}
        for service in client.services.list(filters=label):
            service.remove()
        assert poll(lambda: not client.services.list(filters=label), 60)
        for network in client.networks.list(filters=label):  # swarm may keep the stack network behind
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                network.remove()
        assert wait_gone(client, req.stack).empty


@needs_dockerd
@pytest.mark.slow
def test_hang_blocks_until_the_process_group_is_killed(
    engine: LocalDockerd, client: docker.DockerClient, sample: GeneratedData, tmp_path: Path
) -> None:
    run_id = "manual-106"
    stack = stack_name(f"mumble-{run_id}.ci.example.org")
    env = {
        **os.environ,
        "RECIPE": "mumble",
        "VERSION": latest(sample, "mumble"),
        "RUN_ID": run_id,
        "CCCI_RUNS_DIR": str(tmp_path),
        "CCCI_SAMPLE_RECIPES_SRC": str(sample.recipes_src),
        "CCCI_SAMPLE_DOCKER_HOST": engine.base_url,
        "CCCI_SAMPLE_HANG": "1",
    }
    run_dir = tmp_path / run_id
    proc = subprocess.Popen(
        [sys.executable, "-m", "demo.sample.standin_runner"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert poll(lambda: any((run_dir / "junit").glob("*.xml")) or proc.poll() is not None, 120)
        hanging = "harness: pytest live/test_hang.py"
        assert poll(lambda: hanging in (run_dir / "run.log").read_text() or proc.poll() is not None, 60)
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=3)  # it does not come back by itself
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    try:
        assert proc.returncode == -signal.SIGKILL
        assert not (run_dir / "results.json").exists()
        assert (run_dir / "junit" / "upgrade__cc-ci__test_stack.xml").is_file()
        assert not (run_dir / "junit" / "upgrade__cc-ci__test_hang.xml").exists()
        assert running_tasks(client, stack) == {"app": 1}  # a killed run leaves its stack deployed
    finally:
        remove_all(engine, client, stack)
