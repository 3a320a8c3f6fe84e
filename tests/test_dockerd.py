"""LocalDockerd: a private dockerd + one-node swarm starts, imports the sample image, runs a stack and stops clean."""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import docker
import pytest
import yaml

from demo.devserver.dockerd import (
    GWBRIDGE,
    IMAGE_TAG,
    DockerdError,
    LocalDockerd,
    dockerd_available,
    poll,
)
from tests.tiers import needs_dockerd

LABEL = "com.docker.stack.namespace"
STACK = "probe_ci_example_org"


def processes_mentioning(text: str) -> list[str]:
    """`comm: cmdline` of live processes whose command line contains `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if text in cmdline:
                found.append(f"{(entry / 'comm').read_text().strip()}: {cmdline}")
    return found


def mounts_under(root: Path) -> list[str]:
    lines = Path("/proc/self/mountinfo").read_text().splitlines()
    return [line.split()[4] for line in lines if line.split()[4].startswith(str(root))]


def cli(engine: LocalDockerd, *args: str) -> str:
    done = subprocess.run(["docker", "-H", engine.base_url, *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def write_stack(path: Path) -> Path:
    service = {"image": IMAGE_TAG, "command": ["tail", "-f", "/dev/null"], "init": True, "stop_grace_period": "1s"}
    path.write_text(yaml.safe_dump({"version": "3.8", "services": {"app": service, "db": service}}))
    return path


def running(client: docker.DockerClient, stack: str) -> int:
    containers = client.containers.list(filters={"label": f"{LABEL}={stack}", "status": "running"}, ignore_removed=True)
    return len(containers)


def labelled(client: docker.DockerClient, stack: str) -> list[str]:
    label = {"label": f"{LABEL}={stack}"}
    return (
        [s.name for s in client.services.list(filters=label)]
        + [c.name for c in client.containers.list(all=True, filters=label, ignore_removed=True)]
        + [n.name for n in client.networks.list(filters=label)]
    )


def test_available_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    reason = dockerd_available()
    assert reason is not None and "dockerd" in reason and "apt-get install" in reason


@needs_dockerd
@pytest.mark.slow
def test_engine_lifecycle(tmp_path: Path) -> None:
    engine = LocalDockerd(tmp_path / "engine")
    assert engine.base_url == f"unix://{tmp_path / 'engine' / 'docker.sock'}"
    engine.start()
    pid = engine.pid
    assert pid is not None
    try:
        client = engine.client()
        assert client.info()["Swarm"]["LocalNodeState"] == "active"
        assert client.info()["Swarm"]["ControlAvailable"] is True

        assert engine.ensure_image() == IMAGE_TAG
        image_id = client.images.get(IMAGE_TAG).id
        assert engine.ensure_image() == IMAGE_TAG and client.images.get(IMAGE_TAG).id == image_id  # kept, not redone
        out = client.containers.run(IMAGE_TAG, ["sh", "-c", "ls /bin | wc -l"], remove=True)
        assert int(out) > 100  # busybox and its applet links

        with pytest.raises(DockerdError, match="another LocalDockerd holds"):
            LocalDockerd(tmp_path / "second").start(lock_timeout=0.5)

        compose = write_stack(tmp_path / "stack.yml")
        cli(engine, "stack", "deploy", "--resolve-image", "never", "-c", str(compose), STACK)
        assert poll(lambda: running(client, STACK) == 2, 60), engine.log_tail()
        assert {f"{STACK}_app", f"{STACK}_db", f"{STACK}_default"} <= set(labelled(client, STACK))
        cli(engine, "stack", "rm", STACK)
        assert poll(lambda: not labelled(client, STACK), 60), labelled(client, STACK)

        # left deployed on purpose: stop() must take its tasks down too
        cli(engine, "stack", "deploy", "--resolve-image", "never", "-c", str(compose), "left_behind")
        assert poll(lambda: running(client, "left_behind") == 2, 60)
        client.close()
    finally:
        engine.stop()

    assert engine.pid is None
    assert not Path(f"/proc/{pid}").exists()
    assert processes_mentioning(str(engine.workdir)) == []
    assert processes_mentioning(str(engine.exec_root)) == []  # containerd and its shims
    assert mounts_under(engine.workdir) == [] and mounts_under(engine.exec_root) == []
    assert not engine.exec_root.exists()
    if not processes_mentioning("dockerd"):
        gwbridge = subprocess.run(["ip", "link", "show", GWBRIDGE], capture_output=True, check=False)
        assert gwbridge.returncode != 0, "docker_gwbridge left behind"
    engine.stop()  # idempotent


@needs_dockerd
@pytest.mark.slow
def test_restart_keeps_the_image_and_is_a_swarm_again(tmp_path: Path) -> None:
    with LocalDockerd(tmp_path / "engine") as engine:
        engine.ensure_image()
    with LocalDockerd(tmp_path / "engine") as engine, engine.client() as client:
        assert client.info()["Swarm"]["LocalNodeState"] == "active"
        assert IMAGE_TAG in client.images.get(IMAGE_TAG).tags
