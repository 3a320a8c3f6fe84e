"""Capture real tool output for the knowledge base's examples: `python scripts/capture_tool_output.py`.

Writes ``tests/fixtures/tool-output/<case>.txt``. Each case really runs the tool on this machine:
restic (Debian's package: ``apt-get install -y restic``) against a missing and a locked repository,
an HTTP server on 127.0.0.1 answering 404/502/504 read through ``requests`` and ``urllib`` as a
test waiting for an app's health would, and a private dockerd's one-node swarm (the scaffolding's
LocalDockerd; needs root and Debian's docker.io) whose services fail as recipes' tasks do: an image
that is not there, a task killed for memory, a task that exits non-zero; each printed by the docker
CLI's ``service ps --no-trunc`` as a runner shows it. ``tests/test_failure_shapes.py`` checks that
each file matches the signature it was captured for and no signature of another category. abra
cannot be installed here: its FATA signature's examples follow the documented line shape, and its
YAML says so.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "tool-output"
LOCK_WAIT_S = 30.0


def _restic(repo: Path, *args: str, stdin: int | None = None) -> subprocess.CompletedProcess[str]:
    env = {"RESTIC_PASSWORD": "ci-only", "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(repo.parent)}
    return subprocess.run(
        ["restic", "-r", str(repo), *args], capture_output=True, text=True, env=env, check=False, stdin=stdin
    )


def restic_cases(work: Path) -> dict[str, str]:
    missing = _restic(work / "no-such-repo", "snapshots")
    repo = work / "repo"
    _restic(repo, "init")
    # A backup reading from a pipe we hold open keeps its exclusive lock until we close the pipe.
    env = {"RESTIC_PASSWORD": "ci-only", "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(work)}
    holder = subprocess.Popen(
        ["restic", "-r", str(repo), "backup", "--stdin", "--stdin-filename", "dump.sql"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        deadline = time.monotonic() + LOCK_WAIT_S
        while not any((repo / "locks").iterdir()):  # the lock file is the condition we wait for
            if time.monotonic() > deadline:
                raise RuntimeError("restic did not take its lock")
            time.sleep(0.05)
        locked = _restic(repo, "forget", "--keep-last", "1", "--prune")
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=60)
    return {
        "restic-repository-missing": f"$ restic snapshots (rc={missing.returncode})\n{missing.stderr}",
        "restic-repository-locked": f"$ restic forget --prune (rc={locked.returncode})\n{locked.stderr}",
    }


class _Proxy(BaseHTTPRequestHandler):
    """Answers as traefik does while an app is not up yet: 404 (no router), 502, 504."""

    def do_GET(self) -> None:
        code = int(self.path.strip("/") or "404")
        body = {404: b"404 page not found\n", 502: b"Bad Gateway", 504: b"Gateway Timeout"}[code]
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


def http_cases() -> dict[str, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    out: dict[str, str] = {}
    try:
        for code in (404, 502, 504):
            url = f"http://127.0.0.1:{port}/{code}"
            try:
                requests.get(url, timeout=10).raise_for_status()
            except requests.HTTPError as exc:
                out[f"http-{code}-requests"] = f"requests.exceptions.HTTPError: {exc}\n"
            try:
                urllib.request.urlopen(url, timeout=10)
            except urllib.error.HTTPError as exc:
                out[f"http-{code}-urllib"] = f"urllib.error.HTTPError: {exc}\n"
    finally:
        server.shutdown()
        server.server_close()
    return out


SWARM_WAIT_S = 120.0
SWARM_CASES = {
    # case: (image, command, memory limit in bytes (negative: a reservation) or None, the task error it ends in)
    "swarm-no-such-image": ("ccci.invalid/recipe-app:1.0.0", None, None, "No such image"),
    "swarm-task-oom": (
        "ccci-sample/busybox:1",
        ["sh", "-c", "hog=$(head -c 268435456 /dev/zero | tr '\\0' x); sleep 60"],
        32 * 1024 * 1024,
        "non-zero exit (137)",
    ),
    "swarm-task-exit": (
        "ccci-sample/busybox:1",
        ["sh", "-c", "echo migration failed >&2; exit 3"],
        None,
        "non-zero exit (3)",
    ),
    # a reservation no node can meet: the scheduler leaves the task pending
    "swarm-no-suitable-node": ("ccci-sample/busybox:1", ["sleep", "60"], -(1 << 50), "no suitable node"),
}


def _resources(memory: int | None) -> Any:
    """A memory limit (positive) or a memory reservation (negative: its size), for the service."""
    from docker.types import Resources

    if memory is None:
        return None
    return Resources(mem_limit=memory) if memory > 0 else Resources(mem_reservation=-memory)


def swarm_cases(work: Path) -> dict[str, str]:
    """Services on a real one-node swarm that fail the ways recipes' tasks do, as `docker service ps` shows them."""
    from docker.types import RestartPolicy

    from demo.devserver.dockerd import LocalDockerd, poll

    out: dict[str, str] = {}
    with LocalDockerd(work / "engine") as engine, engine.client() as client:
        engine.ensure_image()
        for case, (image, command, memory, ends_in) in SWARM_CASES.items():
            service = client.services.create(
                image,
                command=command,
                name=case,
                resources=_resources(memory),
                restart_policy=RestartPolicy(condition="none"),
            )
            try:
                if not poll(
                    lambda s=service, e=ends_in: any(e in str(t["Status"].get("Err", "")) for t in s.tasks()),
                    SWARM_WAIT_S,
                ):
                    raise RuntimeError(f"{case}: no task ended in {ends_in!r}: {service.tasks()}")
                shown = subprocess.run(
                    ["docker", "-H", engine.base_url, "service", "ps", "--no-trunc", case],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                out[case] = f"$ docker service ps --no-trunc {case}\n{shown.stdout}"
            finally:
                service.remove()
    return out


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    cases = http_cases()
    if subprocess.run(["which", "restic"], capture_output=True, check=False).returncode == 0:
        with tempfile.TemporaryDirectory() as tmp:
            cases.update(restic_cases(Path(tmp)))
    else:
        print("restic not installed (apt-get install -y restic): its cases are kept as they are", file=sys.stderr)
    from demo.devserver.dockerd import dockerd_available

    why_not = dockerd_available()
    if why_not is None:
        with tempfile.TemporaryDirectory() as tmp:
            cases.update(swarm_cases(Path(tmp)))
    else:
        print(f"no private dockerd ({why_not}): the swarm cases are kept as they are", file=sys.stderr)
    for name, text in sorted(cases.items()):
        (OUT / f"{name}.txt").write_text(text, encoding="utf-8")
        print(f"{name}: {text.strip().splitlines()[-1 if name.startswith(('http', 'swarm')) else 1][:100]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
