"""The harness steps around the tiers (prepull, deploy, teardown) as the stand-in runner logs them.

Nothing is deployed. The steps derive their output from the recipe clone and the sample world,
so that the log carries the same misleading lines a real run has: a non-fatal prepull
failing loudly on a compose project that `docker stack deploy` accepts anyway.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from demo.sample.clock import parse_iso
from demo.sample.deployed import merged_in
from demo.sample.runlog import RunLog

DOCKER_DOWN = (
    "docker: Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"
)


@dataclass(frozen=True)
class ComposeView:
    """The parts of a recipe's compose (the files COMPOSE_FILE names, merged) the harness looks at."""

    images: dict[str, str]
    depends_on: dict[str, list[str]]

    @classmethod
    def load(cls, recipe_dir: Path) -> ComposeView:
        services: dict[str, dict[str, Any]] = merged_in(recipe_dir)[0]["services"]
        return cls(
            {name: str(body["image"]) for name, body in services.items()},
            {name: [str(d) for d in body.get("depends_on", [])] for name, body in services.items()},
        )

    def config_error(self) -> str | None:
        """What `docker compose config` says about the project, if it rejects it."""
        for name, deps in self.depends_on.items():
            for dep in deps:
                if dep not in self.images:
                    return f'service "{name}" depends on undefined service "{dep}": invalid compose project'
        return None


def withdrawn_at(world: Mapping[str, Mapping[str, str]], moment: datetime) -> set[str]:
    """Images the registry no longer serves at `moment`."""
    return {img for img, since in world.get("withdrawn_images", {}).items() if parse_iso(since) <= moment}


def prepull(log: RunLog, compose: ComposeView) -> None:
    """Best-effort image prepull; its failure is logged loudly and ignored, as cc-ci does."""
    log.line("prepull: docker compose config --images")
    error = compose.config_error()
    if error:
        log.raw(error)
        log.line("prepull failed (rc=15), skipping (deploy will pull as usual)")
        return
    log.raw("\n".join(sorted(set(compose.images.values()))))
    log.line(f"prepull: {len(set(compose.images.values()))} images pulled in background")


def _pull_progress(image: str) -> bytes:
    """Docker's pull progress as it lands in a file: carriage returns and ANSI codes."""
    layer = hashlib.sha256(image.encode()).hexdigest()[:12]
    return (
        f"{image}: Pulling from {image.split(':')[0]}\n"
        f"{layer}: Pulling fs layer\r\x1b[1A\x1b[2K{layer}: Downloading  12.4MB/48.1MB\r"
        f"\x1b[1A\x1b[2K{layer}: Pull complete\n"
    ).encode()


def deploy(log: RunLog, recipe: str, domain: str, compose: ComposeView, withdrawn: set[str]) -> bool:
    """`abra app deploy`; swarm ignores depends_on, so only image pulls can stop convergence."""
    stack = domain.replace(".", "_")
    log.line(f"abra app new {recipe} --domain {domain} --server default --secrets --no-input")
    log.line(f"abra app deploy {domain} --no-input --chaos=false")
    rejected: dict[str, str] = {}
    for name, image in compose.images.items():
        log.raw(f"Creating service {stack}_{name}")
        if image in withdrawn:
            rejected[name] = image
            log.raw(f"Error response from daemon: manifest for {image} not found: manifest unknown: manifest unknown")
        else:
            log.raw(_pull_progress(image))
        if "machine-learning" in image:
            log.raw(b"\x00\x1b[?25lmodel cache: ViT-B-32__openai \xe2\x96\x88\xe2\x96\x88\xff\xfe 48%\r\n")
    log.at(log.progress + 0.1)
    log.line(f"deploy: waiting for {len(compose.images)} services to converge (timeout 600s)")
    for name, image in rejected.items():
        log.raw(f"{stack}_{name}.1  task rejected: No such image: {image}")
    if rejected:
        log.line("deploy: UpdateStatus=paused (update paused due to failure or early termination of task)")
        return False
    log.line("deploy: UpdateStatus=completed")
    log.line(f"traefik: router {stack}@swarm ready, certificate for {domain} obtained")
    return True


def node_metrics(log: RunLog, loaded: bool) -> None:
    """Filler the real runner prints between tiers; load average tells a loaded node."""
    avg = "5.84 5.12 4.40" if loaded else "0.42 0.38 0.31"
    log.line(f"metrics: load average {avg}; disk /var/lib/docker 61% used; mem 5.1GiB/7.6GiB")


def teardown(log: RunLog, domain: str, docker_up: bool) -> bool:
    """Undeploy and remove volumes; returns whether the teardown was clean."""
    log.line(f"teardown: abra app undeploy {domain} --no-input && abra app rm {domain} --volumes --no-input")
    if not docker_up:
        log.raw(DOCKER_DOWN)
        log.line("teardown: FAILED, stack may be left behind (clean_teardown=false)")
        return False
    log.line(f"teardown: stack {domain.replace('.', '_')} removed, volumes removed")
    return True
