"""Run a private Docker Engine with a one-node swarm in a scratch directory: start, import an image, stop.

The stand-in runner can deploy real swarm stacks, so the bot's code for reruns and leftovers meets a real
engine in tests and the demo instead of a mock. The daemon gets its own data and exec roots, and leaves the
host's network alone (no iptables rules, no default bridge). Facts this code relies on, checked on Debian's
docker.io 20.10:

- dockerd still writes a few host paths (/etc/docker/key.json, /run/docker, /run/containerd,
  /var/lib/docker/network/files) and leaves a `docker_gwbridge` link and nsfs mounts under its exec root
  after `swarm leave`; stop() removes what this instance created, and only when no other dockerd runs.
- Two swarm-enabled daemons on one host collide on `docker_gwbridge`, so a host-wide lock file serialises
  LocalDockerd instances: a second one waits in start() instead of breaking the first. The swarm's manager
  and data-path ports are free ones, never 2377/4789, so a host's own swarm (a cc-ci node) is left alone.
- containerd refuses unix socket paths over 104 bytes and puts its sockets in the exec root, so the exec
  root lives under a short path (/run/ccci-dockerd/<hash of workdir>), not in a deep pytest tmp_path.
- Nothing can be pulled (no registry): ensure_image() turns the static busybox binary into an image.

Synchronous on purpose (subprocess + the docker SDK), like demo.devserver.synapse, so one class serves
pytest fixtures, the demo and a CLI.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import docker
import docker.errors
import requests.exceptions

from demo.devserver.process import LocalService, free_port, interrupt, signal_group

IMAGE_TAG = "ccci-sample/busybox:1"
BUSYBOX = Path("/bin/busybox")
LOCK_PATH = Path("/run/lock/ccci-localdockerd.lock")
EXEC_ROOTS = Path("/run/ccci-dockerd")
GWBRIDGE = "docker_gwbridge"
# Host paths dockerd writes despite its own roots; removed on stop() if this instance created them.
HOST_LEFTOVERS = (
    Path("/etc/docker/key.json"),
    Path("/run/docker"),
    Path("/run/containerd"),
    Path("/var/lib/docker/network/files"),
)
INSTALL = "docker.io iptables busybox-static"  # Debian packages that make dockerd_available() true
SWARM_ADDR = "127.0.0.1"
DATA_PATH_PORTS = (20000, 49151)  # the engine takes a data-path (VXLAN) port within 1024-49151 only
POLL_INTERVAL = 0.05
_SUN_PATH_MAX = 104  # containerd's limit for a unix socket path (the kernel's is 107)


class DockerdError(RuntimeError):
    """dockerd did not start, died, or a step on the engine (swarm, image) failed."""


def dockerd_available() -> str | None:
    """None when a LocalDockerd can run here; otherwise why not, worded for pytest.skip."""
    missing = [tool for tool in ("dockerd", "docker", "docker-init") if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not found: apt-get install -y --no-install-recommends {INSTALL}"
    if not BUSYBOX.is_file():
        return f"{BUSYBOX} not found (the sample image is built from it): apt-get install -y busybox-static"
    if os.geteuid() != 0:
        return "dockerd needs root"
    return None


def busybox_rootfs(busybox: Path = BUSYBOX) -> bytes:
    """A tar of a root filesystem: the static busybox binary and a symlink per applet, as `docker import` takes it.

    Built in memory: ~2 MB, and no scratch directory to clean up.
    """
    listing = subprocess.run([str(busybox), "--list"], capture_output=True, text=True, check=True).stdout
    applets = sorted({name for name in listing.split() if name and name != "busybox"})
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for directory in ("bin", "etc", "tmp", "proc", "sys", "dev", "root"):
            info = tarfile.TarInfo(directory)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if directory == "tmp" else 0o755
            tar.addfile(info)
        tar.add(str(busybox), arcname="bin/busybox")
        for applet in applets:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            tar.addfile(link)
        passwd = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"
        for name, data in (("etc/passwd", passwd), ("etc/group", b"root:x:0:\nnogroup:x:65534:\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def ensure_busybox_image(client: docker.DockerClient, tag: str = IMAGE_TAG) -> str:
    """Import the busybox image under `tag` unless the engine already has it; returns the tag."""
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        repository, _, version = tag.rpartition(":")
        if not repository:
            repository, version = tag, "latest"
        client.api.import_image_from_data(busybox_rootfs(), repository=repository, tag=version)
        client.images.get(tag)  # raises if the import did not land under the tag
    return tag


def poll(condition: Callable[[], bool], timeout: float, interval: float = POLL_INTERVAL) -> bool:
    """Check `condition` until it holds or `timeout` passes; returns its last value."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


class ClosingClient(docker.DockerClient):
    """A DockerClient that works as a context manager (docker 7's does not): its connections close on exit."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class LocalDockerd(LocalService):
    """One dockerd whose state (data root, socket, pid file, log) lives in workdir, as a swarm manager.

    Its exec root (runtime sockets, network namespaces) is a short path derived from workdir and is removed on
    stop(). A restart on the same workdir keeps images; the swarm is made anew. Clients connect with `base_url`
    (`unix://<workdir>/docker.sock`), e.g. `docker.DockerClient(base_url=...)` or `docker -H <base_url>`.
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir).resolve()
        self.socket = self.workdir / "docker.sock"
        self.base_url = f"unix://{self.socket}"
        self.log_path = self.workdir / "dockerd.log"
        self.data_root = self.workdir / "data"
        self.exec_root = EXEC_ROOTS / hashlib.sha256(str(self.workdir).encode()).hexdigest()[:12]
        self.pidfile = self.workdir / "docker.pid"
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock: IO[str] | None = None
        self._created: list[Path] = []

    def client(self, timeout: int = 60) -> ClosingClient:
        """A new SDK client for this engine; close it, e.g. with `with engine.client() as client:`."""
        return ClosingClient(base_url=self.base_url, timeout=timeout)

    def start(self, timeout: float = 60.0, *, lock_timeout: float = 600.0) -> None:
        """Launch dockerd, wait until it answers a ping, and make it a one-node swarm manager.

        Waits up to `lock_timeout` for another LocalDockerd on this host to stop first. Raises DockerdError,
        with the log tail, if dockerd exits or is not ready within `timeout`; a failed start leaks nothing.
        """
        if self.running:
            raise DockerdError(f"dockerd is already running at {self.base_url} (pid {self.pid})")
        if len(str(self.socket)) > _SUN_PATH_MAX:
            raise DockerdError(f"socket path too long for a unix socket ({len(str(self.socket))} chars): {self.socket}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._acquire_lock(lock_timeout)
        try:
            self._created = [_first_missing(path) for path in HOST_LEFTOVERS if not path.exists()]
            self._launch()
            self._wait_ready(timeout)
            self._init_swarm()
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 30.0) -> None:
        """Leave the swarm, SIGTERM dockerd and wait (SIGKILL after timeout), then clean up. Safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                self._leave_swarm()
                signal_group(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    signal_group(proc.pid, signal.SIGKILL)
                    proc.wait()
            signal_group(proc.pid, signal.SIGKILL)  # anything left in dockerd's group
            self._kill_strays(timeout)
            self._unmount()
        if self._lock is not None:
            self._clean_host()
            self._release_lock()

    def ensure_image(self, tag: str = IMAGE_TAG) -> str:
        """Make `tag` a busybox image on this engine (imported once, then kept); returns the tag."""
        with self.client() as client:
            return ensure_busybox_image(client, tag)

    def wait(self) -> int:
        """Block until dockerd exits on its own (or a signal interrupts us); returns its exit code."""
        if self._proc is None:
            raise DockerdError("dockerd is not running")
        return self._proc.wait()

    def __repr__(self) -> str:
        return f"LocalDockerd({str(self.workdir)!r}, base_url={self.base_url!r}, pid={self.pid})"

    # -- start -------------------------------------------------------------------------------
    def _acquire_lock(self, timeout: float) -> None:
        """Take the host-wide lock; two swarm daemons on one host would break each other."""
        LOCK_PATH.parent.mkdir(parents=True, exist_ok=True)
        lock = LOCK_PATH.open("a+", encoding="utf-8")

        def take() -> bool:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        if not poll(take, timeout, interval=0.5):
            lock.seek(0)
            holder = lock.read().strip() or "unknown"
            lock.close()
            raise DockerdError(f"another LocalDockerd holds {LOCK_PATH} ({holder}) after {timeout:g} s")
        lock.seek(0)
        lock.truncate()
        lock.write(f"pid {os.getpid()}, workdir {self.workdir}\n")
        lock.flush()
        self._lock = lock

    def _release_lock(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.truncate(0)
            fcntl.flock(lock, fcntl.LOCK_UN)
            lock.close()

    def _launch(self) -> None:
        argv = [
            "dockerd",
            f"--host={self.base_url}",
            f"--data-root={self.data_root}",
            f"--exec-root={self.exec_root}",
            f"--pidfile={self.pidfile}",
            "--storage-driver=vfs",
            "--iptables=false",
            "--ip6tables=false",
            "--bridge=none",
        ]
        self._spawn(argv, self.workdir)

    def _wait_ready(self, timeout: float) -> None:
        """Poll the engine's ping until it answers, dockerd dies, or time runs out."""
        proc = self._proc
        assert proc is not None

        def answers() -> bool:
            if proc.poll() is not None:
                raise DockerdError(f"dockerd exited with code {proc.returncode}. Log tail:\n{self.log_tail()}")
            try:  # making a client asks the engine for its API version: that is the ping
                with self.client(timeout=5) as client:
                    return bool(client.ping())
            except (docker.errors.DockerException, requests.exceptions.RequestException):
                return False

        if not poll(answers, timeout):
            raise DockerdError(f"dockerd not ready at {self.base_url} after {timeout:g} s. Log:\n{self.log_tail()}")

    def _init_swarm(self) -> None:
        """`docker swarm init --advertise-addr 127.0.0.1`, unless the workdir's engine is a manager already."""
        with self.client() as client:
            if client.info()["Swarm"]["LocalNodeState"] == "active":
                return
            # Free ports, not 2377 and 4789: a host that runs its own swarm (a cc-ci node) keeps working.
            client.swarm.init(
                advertise_addr=SWARM_ADDR,
                listen_addr=f"{SWARM_ADDR}:{free_port()}",
                data_path_port=free_port(socket.SOCK_DGRAM, span=DATA_PATH_PORTS),
            )

    # -- stop --------------------------------------------------------------------------------
    def _leave_swarm(self) -> None:
        """Force-leave: it stops every task at once, where a plain SIGTERM would wait out stop timeouts."""
        with (
            contextlib.suppress(docker.errors.DockerException, requests.exceptions.RequestException),
            self.client(timeout=15) as client,
        ):
            client.swarm.leave(force=True)

    def _kill_strays(self, timeout: float) -> None:
        """SIGKILL containerd and shims still serving our exec root after a dockerd that did not exit cleanly."""
        strays = _containerd_pids(str(self.exec_root))
        for pid in strays:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        poll(lambda: not any(_alive(pid) for pid in strays), timeout)

    def _unmount(self) -> None:
        """Lazily unmount what dockerd left mounted (network namespaces), deepest first; then drop the exec root."""
        points = _mounts_under(self.workdir) + _mounts_under(self.exec_root)
        for mountpoint in sorted(points, key=lambda p: len(p.parts), reverse=True):
            subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True, check=False)
        shutil.rmtree(self.exec_root, ignore_errors=True)
        with contextlib.suppress(OSError):  # only when no other engine's exec root is in it
            EXEC_ROOTS.rmdir()

    def _clean_host(self) -> None:
        """Best effort: remove the host paths and the gwbridge link dockerd left, unless another dockerd runs."""
        if any(_pids_named("dockerd")):
            return
        subprocess.run(["ip", "link", "delete", GWBRIDGE], capture_output=True, check=False)
        for path in self._created:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        self._created = []


def _first_missing(path: Path) -> Path:
    """The highest ancestor of a missing `path` that is missing too: what creating `path` would create."""
    top = path
    while not top.parent.exists():
        top = top.parent
    return top


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _processes() -> Iterator[tuple[int, str, bytes]]:
    """(pid, comm, cmdline) of every process we can read."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text(encoding="utf-8", errors="replace").strip()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:  # exited while we looked
            continue
        yield int(entry.name), comm, cmdline


def _pids_named(name: str) -> list[int]:
    return [pid for pid, comm, _ in _processes() if comm == name]


def _containerd_pids(exec_root: str) -> list[int]:
    """containerd and its shims started for the engine with this exec root (they name it in their arguments)."""
    needle = exec_root.encode()
    return [pid for pid, comm, cmdline in _processes() if comm.startswith("containerd") and needle in cmdline]


def _mounts_under(root: Path) -> list[Path]:
    """Mount points at or below `root`, from /proc/self/mountinfo (octal escapes such as \\040 decoded)."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text(encoding="utf-8").splitlines():
        fields = line.split()
        point = Path(fields[4].encode().decode("unicode_escape"))
        if point == root or root in point.parents:
            found.append(point)
    return found


def main(argv: list[str] | None = None) -> int:
    """CLI: run an engine in WORKDIR with the sample image, print its base_url, stop on Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m demo.devserver.dockerd",
        description="Run a private dockerd + one-node swarm until Ctrl-C or SIGTERM; state is kept in WORKDIR.",
    )
    parser.add_argument("workdir", type=Path, metavar="WORKDIR")
    args = parser.parse_args(argv)
    reason = dockerd_available()
    if reason:
        print(reason, file=sys.stderr)
        return 1
    engine = LocalDockerd(args.workdir)
    signal.signal(signal.SIGTERM, interrupt)
    try:
        with engine:
            engine.ensure_image()
            print(engine.base_url, flush=True)
            print(f"dockerd pid {engine.pid}; log: {engine.log_path}", file=sys.stderr, flush=True)
            code = engine.wait()
    except KeyboardInterrupt:
        return 0
    print(f"dockerd exited by itself with code {code}. Log tail:\n{engine.log_tail()}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
