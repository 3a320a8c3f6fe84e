"""The harness steps around the tiers done for real: a swarm stack on a Docker engine, deployed and removed.

The stand-in runner uses this instead of `harness.deploy`/`harness.teardown` when it is given an engine
(CCCI_SAMPLE_DOCKER_HOST), so the bot's rerun code meets what a real cc-ci run leaves on a node: a stack
named after the app domain, every service, container and network labelled `com.docker.stack.namespace`,
and sometimes something left behind. Images cannot be pulled, so every service runs the local busybox
image (demo.devserver.dockerd) with a command that keeps running; names, labels and replicas come from
the recipe clone. Stacks are deployed with the `docker` CLI because the SDK has no `stack deploy`.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import yaml

from demo.devserver.dockerd import IMAGE_TAG, ensure_busybox_image, poll
from demo.sample.deployed import merged_in
from demo.sample.runlog import RunLog

STACK_LABEL = "com.docker.stack.namespace"
# Stacks that live on a cc-ci node next to the app under test and do not count as load.
ALLOWED_NEIGHBOURS = ("traefik", "backupbot")
KEEP_RUNNING = ("tail", "-f", "/dev/null")
LEFTOVER_SERVICE = "ci-probe"
CONVERGE_TIMEOUT = 120.0
REMOVE_TIMEOUT = 120.0
CLI_TIMEOUT = 120.0
POLL_INTERVAL = 0.2
_VAR = re.compile(r"\$\{(\w+)\}")
_HEALTH_PORT = re.compile(r"localhost:(\d+)")


class StackError(RuntimeError):
    """A `docker` CLI call failed; the message carries its output."""


def stack_name(domain: str) -> str:
    """The swarm stack abra deploys an app domain as: dots become underscores."""
    return domain.replace(".", "_")


def is_allowed_neighbour(namespace: str, allowed: Iterable[str] = ALLOWED_NEIGHBOURS) -> bool:
    """Whether a stack is node infrastructure (`traefik`, `traefik_example_org`, ...) rather than load."""
    return any(namespace == name or namespace.startswith(f"{name}_") for name in allowed)


# -- the compose file -----------------------------------------------------------------------------


def _labels(body: Mapping[str, Any]) -> dict[str, str]:
    raw = body.get("deploy", {}).get("labels", {})
    return {str(k): str(v) for k, v in raw.items()}


def _fill(text: str, values: Mapping[str, str]) -> str:
    """Substitute `${VAR}` as abra would, then escape `$` so the docker CLI does not interpolate again."""
    return _VAR.sub(lambda m: values.get(m.group(1), ""), text).replace("$", "$$")


def _command(body: Mapping[str, Any]) -> list[str]:
    """A web service listens on its healthcheck's port (busybox httpd); the others just keep running."""
    health = " ".join(str(part) for part in body.get("healthcheck", {}).get("test", []))
    port = _HEALTH_PORT.search(health)
    return ["httpd", "-f", "-p", port.group(1)] if port else list(KEEP_RUNNING)


def live_compose(recipe_dir: Path, stack: str, image: str = IMAGE_TAG) -> dict[str, Any]:
    """The recipe clone's compose (the files COMPOSE_FILE names, merged) made deployable here: same services
    and deploy labels, local image.

    `init: true` and a 1 s stop grace period keep `docker stack rm` short: busybox as PID 1 ignores
    SIGTERM, which would cost each task the default 10 s. Volumes and external networks are dropped
    (nothing to back them here); the stack gets its own default overlay network, labelled like the rest.
    """
    compose, _, env = merged_in(recipe_dir)
    values = {**env, "STACK_NAME": stack}
    services: dict[str, Any] = {}
    for name, body in compose["services"].items():
        labels = {_fill(key, values): _fill(value, values) for key, value in _labels(body).items()}
        services[str(name)] = {
            "image": image,
            "command": _command(body),
            "init": True,
            "stop_grace_period": "1s",
            "deploy": {"replicas": 1, "restart_policy": {"condition": "on-failure"}, "labels": labels},
        }
    return {"version": "3.8", "services": services}


# -- the docker CLI and the engine's state -------------------------------------------------------


def docker_cli(base_url: str, *args: str, timeout: float = CLI_TIMEOUT) -> str:
    """`docker -H base_url args...`; returns stdout+stderr, raises StackError with them on failure."""
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DOCKER_CONTEXT")}
    env["DOCKER_CLI_HINTS"] = "false"
    done = subprocess.run(
        ["docker", "-H", base_url, *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise StackError(f"docker {' '.join(args)} failed (rc={done.returncode}):\n{output}")
    return output


def deploy_stack(base_url: str, stack: str, compose_file: Path) -> str:
    """`docker stack deploy`; `--resolve-image never` because there is no registry to ask."""
    return docker_cli(base_url, "stack", "deploy", "--resolve-image", "never", "-c", str(compose_file), stack)


def remove_stack(base_url: str, stack: str) -> str:
    """`docker stack rm`: returns at once; the engine removes tasks and networks afterwards (see wait_gone)."""
    return docker_cli(base_url, "stack", "rm", stack)


def namespace_filter(stack: str) -> dict[str, str | list[str] | bool]:
    """The SDK filter for everything of one stack."""
    return {"label": f"{STACK_LABEL}={stack}"}


@dataclass(frozen=True)
class Leftovers:
    """What the engine still holds under a stack's namespace label, by kind (names)."""

    services: tuple[str, ...] = ()
    containers: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.services or self.containers or self.networks)

    def describe(self) -> str:
        parts = [
            f"{kind} {name}"
            for kind, names in (("service", self.services), ("container", self.containers), ("network", self.networks))
            for name in names
        ]
        return ", ".join(parts) or "nothing"


def leftovers(client: docker.DockerClient, stack: str) -> Leftovers:
    """Everything labelled with the stack's namespace: services, containers (also stopped ones), networks."""
    label = namespace_filter(stack)
    return Leftovers(
        tuple(sorted(str(s.name) for s in client.services.list(filters=label))),
        tuple(sorted(str(c.name) for c in client.containers.list(all=True, filters=label, ignore_removed=True))),
        tuple(sorted(str(n.name) for n in client.networks.list(filters=label))),
    )


def running_tasks(client: docker.DockerClient, stack: str) -> dict[str, int]:
    """Running tasks per service of the stack, by short service name (`app`, not `<stack>_app`)."""
    counts: dict[str, int] = {}
    for service in client.services.list(filters=namespace_filter(stack)):
        tasks: list[dict[str, Any]] = service.tasks(filters={"desired-state": "running"})  # type: ignore[no-untyped-call]
        short = str(service.name).removeprefix(f"{stack}_")
        counts[short] = sum(1 for task in tasks if task["Status"]["State"] == "running")
    return counts


def stacks_on(client: docker.DockerClient) -> set[str]:
    """Namespaces of every service on the engine that belongs to a stack."""
    found = (s.attrs["Spec"].get("Labels", {}).get(STACK_LABEL) for s in client.services.list())
    return {str(namespace) for namespace in found if namespace}


def neighbours(client: docker.DockerClient, own: str, allowed: Iterable[str] = ALLOWED_NEIGHBOURS) -> list[str]:
    """Other stacks on the engine that are load (not node infrastructure such as traefik)."""
    allowed = tuple(allowed)
    return sorted(ns for ns in stacks_on(client) if ns != own and not is_allowed_neighbour(ns, allowed))


def wait_running(
    client: docker.DockerClient, stack: str, services: Iterable[str], timeout: float = CONVERGE_TIMEOUT
) -> dict[str, int]:
    """Poll until every named service has a running task (or timeout); returns the last counts seen."""
    expected = set(services)
    seen: dict[str, int] = {}

    def converged() -> bool:
        seen.clear()
        seen.update(running_tasks(client, stack))
        return all(seen.get(name, 0) >= 1 for name in expected)

    poll(converged, timeout, POLL_INTERVAL)
    return dict(seen)


def wait_gone(client: docker.DockerClient, stack: str, timeout: float = REMOVE_TIMEOUT) -> Leftovers:
    """Poll until nothing labelled with the stack's namespace is left (or timeout); returns what is left."""
    last = [Leftovers()]

    def gone() -> bool:
        last[0] = leftovers(client, stack)
        return last[0].empty

    poll(gone, timeout, POLL_INTERVAL)
    return last[0]


def leave_service(client: docker.DockerClient, stack: str, image: str = IMAGE_TAG) -> str:
    """Create a service carrying the stack's namespace label outside the stack file, as a hook would; returns its name.

    Created after `docker stack rm` has finished, so it survives teardown: what leftover detection must find.
    """
    name = f"{stack}_{LEFTOVER_SERVICE}"
    labels = {STACK_LABEL: stack}
    client.services.create(  # type: ignore[no-untyped-call]  # untyped in types-docker
        image,
        command=list(KEEP_RUNNING),
        name=name,
        labels=labels,
        container_labels=labels,
        init=True,
        stop_grace_period=1_000_000_000,  # nanoseconds
    )
    return name


# -- the steps as the runner logs them -----------------------------------------------------------


class LiveStack:
    """One run's stack on an engine: deploy it, let tiers reach it, tear it down; logs as cc-ci does."""

    def __init__(self, base_url: str, domain: str, compose_file: Path) -> None:
        self.base_url = base_url
        self.domain = domain
        self.name = stack_name(domain)
        self.compose_file = compose_file
        self._client: docker.DockerClient | None = None

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = docker.DockerClient(base_url=self.base_url, timeout=60)
        return self._client

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def deploy(self, log: RunLog, recipe: str, recipe_dir: Path, timeout: float = CONVERGE_TIMEOUT) -> str | None:
        """Deploy the recipe's live stack and wait for its tasks; returns why no tier can run, or None."""
        log.line(f"abra app new {recipe} --domain {self.domain} --server default --secrets --no-input")
        log.line(f"abra app deploy {self.domain} --no-input --chaos=false")
        compose = live_compose(recipe_dir, self.name)
        self.compose_file.parent.mkdir(parents=True, exist_ok=True)
        self.compose_file.write_text(yaml.safe_dump(compose, sort_keys=False), encoding="utf-8")
        log.line(f"docker stack deploy --resolve-image never -c {self.compose_file.name} {self.name}")
        try:
            ensure_busybox_image(self.client)
            log.raw(deploy_stack(self.base_url, self.name, self.compose_file))
        except (StackError, docker.errors.DockerException, subprocess.TimeoutExpired, OSError) as exc:
            log.raw(str(exc))
            log.line("deploy: FAILED")
            return f"deploy of {self.name} failed"
        services = sorted(compose["services"])
        log.line(f"deploy: waiting for {len(services)} services to converge (timeout {timeout:g}s)")
        running = wait_running(self.client, self.name, services, timeout)
        missing = [name for name in services if running.get(name, 0) < 1]
        if missing:
            log.line(f"deploy: services without a running task after {timeout:g}s: {', '.join(missing)}")
        else:
            log.line("deploy: UpdateStatus=completed")
        return None

    def neighbours(self) -> list[str]:
        return neighbours(self.client, self.name)

    def teardown(self, log: RunLog, leave: bool = False, timeout: float = REMOVE_TIMEOUT) -> bool:
        """`docker stack rm`, wait until nothing labelled is left; returns whether that holds at the end.

        With `leave`, a labelled service is created once the stack is gone (see leave_service).
        """
        undeploy = f"abra app undeploy {self.domain} --no-input && abra app rm {self.domain} --volumes --no-input"
        log.line(f"teardown: {undeploy}")
        try:
            log.raw(remove_stack(self.base_url, self.name))
        except (StackError, subprocess.TimeoutExpired, OSError) as exc:
            log.raw(str(exc))
        log.line(f"teardown: waiting until nothing labelled {STACK_LABEL}={self.name} is left (timeout {timeout:g}s)")

        # `docker stack rm` removes the stack's network right after its services; if a task's endpoint is
        # still closing then (a loaded node), the engine keeps that network for good. Remove it again once
        # the services and containers are gone, as an operator would.
        def tasks_gone() -> bool:
            now = leftovers(self.client, self.name)
            return not now.services and not now.containers

        poll(tasks_gone, timeout, POLL_INTERVAL)
        with contextlib.suppress(docker.errors.DockerException):
            for network in self.client.networks.list(filters=namespace_filter(self.name)):
                with contextlib.suppress(docker.errors.DockerException):
                    network.remove()
        left = wait_gone(self.client, self.name, timeout)
        if leave and left.empty:
            with contextlib.suppress(docker.errors.DockerException):
                leave_service(self.client, self.name)
            left = leftovers(self.client, self.name)
        if not left.empty:
            log.line(f"teardown: FAILED, left behind: {left.describe()} (clean_teardown=false)")
            return False
        log.line(f"teardown: stack {self.name} removed, volumes removed")
        return True
