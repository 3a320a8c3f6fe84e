"""Capture real tool output for the knowledge base's examples: `python scripts/capture_tool_output.py`.

Writes ``tests/fixtures/tool-output/<case>.txt``. Each case really runs the tool on this machine:
restic (Debian's package: ``apt-get install -y restic``) against a missing and a locked repository,
and an HTTP server on 127.0.0.1 answering 404/502/504 read through ``requests`` and ``urllib`` as a
test waiting for an app's health would. ``tests/test_failure_shapes.py`` checks that each file matches
the signature it was captured for and no signature of another category. What this machine cannot
produce (a swarm running recipes, abra) is not captured: those signatures' examples follow the
documented line shapes, and their YAML says so.
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


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    cases = http_cases()
    if subprocess.run(["which", "restic"], capture_output=True, check=False).returncode == 0:
        with tempfile.TemporaryDirectory() as tmp:
            cases.update(restic_cases(Path(tmp)))
    else:
        print("restic not installed (apt-get install -y restic): its cases are kept as they are", file=sys.stderr)
    for name, text in sorted(cases.items()):
        (OUT / f"{name}.txt").write_text(text, encoding="utf-8")
        print(f"{name}: {text.strip().splitlines()[-1 if name.startswith('http') else 1][:100]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
