"""The CI node's state, through the Docker SDK (the only runtime module that imports docker).

"Is anything running?" is asked of the things themselves — the active dir cc-ci keeps per deploy,
and the stacks deployed on the engine — never of process lists, which would see the bot itself (a
``pgrep -f`` matches its own command line).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.artifacts.activedir import in_flight
from bot.errors import Transient

if TYPE_CHECKING:
    import docker

STACK_LABEL = "com.docker.stack.namespace"


class NodeUnreachable(Transient):
    """The Docker engine could not be asked; a rerun must not start blind."""


@dataclass(frozen=True)
class NodeState:
    active: list[str]  # entries in the active dir (one per deploy in flight)
    stacks: list[str]  # deployed stacks outside the allowlist

    @property
    def idle(self) -> bool:
        return not self.active and not self.stacks

    def describe(self) -> str:
        parts = []
        if self.active:
            parts.append("in flight: " + ", ".join(self.active))
        if self.stacks:
            parts.append("stacks deployed: " + ", ".join(self.stacks))
        return "; ".join(parts) or "idle"


class Node:
    def __init__(self, active_dir: Path, base_url: str | None, allowed_stacks: tuple[str, ...]) -> None:
        self.active_dir = active_dir
        self.base_url = base_url
        self.allowed = set(allowed_stacks)

    def _client(self) -> docker.DockerClient:
        # Imported here: the SDK (and requests under it) costs every CLI start that never asks the node.
        import docker
        from docker.errors import DockerException

        assert self.base_url is not None
        try:
            return docker.DockerClient(base_url=self.base_url, timeout=20)
        except DockerException as exc:
            raise NodeUnreachable(f"Docker engine at {self.base_url} unreachable: {exc}") from exc

    def _namespaces(self) -> dict[str, list[str]]:
        """Stack namespace → what carries it (services, containers, networks).

        The low-level API lists with labels in one call each; the high-level ``containers.list``
        inspects every container afterwards and fails on one that vanished in between (a teardown).
        """
        if self.base_url is None:
            return {}
        from docker.errors import DockerException

        client = self._client()
        found: dict[str, list[str]] = {}
        label = {"label": STACK_LABEL}
        try:
            raw_services = client.api.services(filters=label)  # type: ignore[no-untyped-call]
            services = [(s["Spec"]["Name"], s["Spec"].get("Labels") or {}) for s in raw_services]
            containers = [
                ((c.get("Names") or ["?"])[0].lstrip("/"), c.get("Labels") or {})
                for c in client.api.containers(all=True, filters=label)
            ]
            networks = [(n["Name"], n.get("Labels") or {}) for n in client.api.networks(filters=label)]
        except DockerException as exc:
            raise NodeUnreachable(f"Docker engine at {self.base_url}: {exc}") from exc
        finally:
            client.close()
        for kind, items in (("service", services), ("container", containers), ("network", networks)):
            for name, labels in items:
                namespace = labels.get(STACK_LABEL)
                if namespace:
                    found.setdefault(namespace, []).append(f"{kind} {name}")
        return found

    def engine_version(self) -> str:
        """The engine's version (a ping that proves the socket is reachable and we may use it)."""
        from docker.errors import DockerException

        client = self._client()
        try:
            return str(client.version().get("Version", "?"))
        except DockerException as exc:
            raise NodeUnreachable(f"Docker engine at {self.base_url}: {exc}") from exc
        finally:
            client.close()

    def active(self) -> list[str]:
        """cc-ci's in-flight markers (one entry per deploy running); a missing dir means none."""
        return in_flight(self.active_dir)

    def state(self) -> NodeState:
        active = self.active()
        stacks = sorted(ns for ns in self._namespaces() if ns not in self.allowed)
        return NodeState(active, stacks)

    def leftovers(self) -> list[str]:
        """Anything of a stack outside the allowlist still on the engine (after a rerun: not torn down)."""
        return [
            f"{thing} (stack {ns})"
            for ns, things in sorted(self._namespaces().items())
            if ns not in self.allowed
            for thing in things
        ]
