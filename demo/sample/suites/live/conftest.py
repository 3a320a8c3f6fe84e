"""The deployed stack as the docker-mode tier tests see it: a real swarm stack, read through the docker SDK.

The stand-in runner (demo.sample.standin_runner) adds these files to the tiers when it deploys the recipe
on a Docker engine, and passes where to find it:

- CCCI_SAMPLE_DOCKER_HOST: the engine's base_url (`unix:///.../docker.sock`);
- CCCI_SAMPLE_STACK: the stack name (the app domain with dots replaced by underscores);
- CCCI_SAMPLE_EXPECT_REPLICAS: replicas per service the test expects (default 1);
- CCCI_SAMPLE_ALLOWED_STACKS: comma-separated stacks that share the node without loading it (traefik, ...).
"""

import os

import docker
import pytest

STACK_LABEL = "com.docker.stack.namespace"


class LiveStack:
    """One stack on the engine, by its namespace label."""

    def __init__(self, client, name):
        self.client = client
        self.name = name

    def __repr__(self):
        return f"<LiveStack {self.name}>"

    def services(self):
        found = self.client.services.list(filters={"label": f"{STACK_LABEL}={self.name}"})
        return {s.name.removeprefix(f"{self.name}_"): s for s in found}

    def service_names(self):
        return sorted(self.services())

    def running_tasks(self):
        """Running tasks per service."""
        return {
            name: sum(1 for t in svc.tasks(filters={"desired-state": "running"}) if t["Status"]["State"] == "running")
            for name, svc in self.services().items()
        }

    def replicas(self):
        """Replicas per service as deployed (the service spec)."""
        return {name: svc.attrs["Spec"]["Mode"]["Replicated"]["Replicas"] for name, svc in self.services().items()}

    def neighbours(self, allowed):
        """Other stacks on the engine, except node infrastructure named in `allowed`."""
        namespaces = {s.attrs["Spec"].get("Labels", {}).get(STACK_LABEL) for s in self.client.services.list()}
        return sorted(
            ns
            for ns in namespaces
            if ns and ns != self.name and not any(ns == a or ns.startswith(f"{a}_") for a in allowed)
        )


@pytest.fixture(scope="session")
def engine():
    client = docker.DockerClient(base_url=os.environ["CCCI_SAMPLE_DOCKER_HOST"], timeout=30)
    yield client
    client.close()


@pytest.fixture
def live(engine):
    return LiveStack(engine, os.environ["CCCI_SAMPLE_STACK"])


@pytest.fixture
def allowed_stacks():
    return [name for name in os.environ.get("CCCI_SAMPLE_ALLOWED_STACKS", "").split(",") if name]
