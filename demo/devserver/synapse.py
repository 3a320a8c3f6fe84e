"""Run a real Synapse on 127.0.0.1 in a scratch directory: start, wait until ready, register users, stop.

Synchronous on purpose (subprocess + urllib) so one class serves pytest fixtures, the demo and a CLI without
an event loop. Synapse runs in its own process group (and session) so that stop() takes down anything it
spawned, and a Ctrl-C meant for the CLI does not reach Synapse before our orderly shutdown does.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from demo.devserver.process import LocalService, free_port, interrupt, signal_group

CONFIG_NAME = "homeserver.yaml"
LOG_CONFIG_NAME = "log.config.yaml"
LOG_NAME = "synapse.log"
READY_PATH = "/_matrix/client/versions"
POLL_INTERVAL = 0.05

# Never route 127.0.0.1 through an http_proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def relaxed_rate_limits() -> dict[str, Any]:
    """Rate-limit settings high enough that tests never see a 429 (or nio's silent multi-minute retries).

    Key names checked against synapse/config/ratelimiting.py (Synapse 1.163). Fresh dicts each time so the
    YAML dump has no anchors.
    """

    def high() -> dict[str, int]:
        return {"per_second": 1000, "burst_count": 1000}

    flat = [
        "rc_message",
        "rc_registration",
        "rc_registration_token_validity",
        "rc_joins_per_room",
        "rc_third_party_invite",
        "rc_room_creation",
        "rc_admin_redaction",
        "rc_media_create",
        "rc_delayed_event_mgmt",
        "rc_reports",
        "rc_user_directory",
        "rc_profile",
        "rc_key_requests",
        "rc_3pid_validation",
    ]
    nested = {
        "rc_login": ["address", "account", "failed_attempts"],
        "rc_joins": ["local", "remote"],
        "rc_invites": ["per_room", "per_user", "per_issuer"],
        "rc_presence": ["per_user"],
    }
    limits: dict[str, Any] = {key: high() for key in flat}
    limits.update({key: {sub: high() for sub in subs} for key, subs in nested.items()})
    return limits


class SynapseError(RuntimeError):
    """Synapse did not start, died, or answered an API call with an error (status is the HTTP code, if any)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class MatrixUser:
    """A registered account and a logged-in device, ready for a client (e.g. nio) to use."""

    user_id: str
    access_token: str
    password: str
    device_id: str | None


class LocalSynapse(LocalService):
    """One Synapse homeserver whose whole state (config, keys, sqlite database, media, log) lives in workdir.

    The port and registration secret are fixed when the object is made, and reused from an existing
    homeserver.yaml in workdir, so restart() and a later run on the same workdir serve the same URL and
    database. Client API only: no federation listener, and outbound federation is blocked outright.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None = None,
        relaxed_rate_limits: bool = True,
        server_name: str = "localhost",
    ) -> None:
        self.workdir = Path(workdir).resolve()
        self.server_name = server_name
        self.relaxed_rate_limits = relaxed_rate_limits
        self.config_path = self.workdir / CONFIG_NAME
        self.log_path = self.workdir / LOG_NAME
        old_port, old_secret = self._existing_settings()
        self.port = port or old_port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._secret = old_secret or secrets.token_hex(32)
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        """(Re)write the config, launch Synapse and return once the client API answers.

        Raises SynapseError, with the log tail, if the process exits first or is not ready within timeout
        (in which case it is stopped again, so a failed start leaks no process).
        """
        if self.running:
            raise SynapseError(f"Synapse is already running at {self.url} (pid {self.pid})")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._write_config()
        # Synapse creates the signing key itself on first start (its default --generate-missing-and-run mode).
        proc = self._spawn([sys.executable, "-m", "synapse.app.homeserver", "-c", str(self.config_path)], self.workdir)
        try:
            self._wait_ready(proc, timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM Synapse's process group and wait; SIGKILL if it outlives timeout. Safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            signal_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                signal_group(proc.pid, signal.SIGKILL)
                proc.wait()
        signal_group(proc.pid, signal.SIGKILL)  # anything Synapse left behind in its group

    def restart(self) -> None:
        """Stop and start again: same port, database and secret, so existing access tokens stay valid."""
        self.stop()
        self.start()

    def wait(self) -> int:
        """Block until Synapse exits on its own (or a signal interrupts us); returns its exit code."""
        if self._proc is None:
            raise SynapseError("Synapse is not running")
        return self._proc.wait()

    def register(
        self,
        localpart: str,
        password: str = "secret-pw",  # noqa: S107 - throwaway accounts on a loopback-only test server
        admin: bool = False,
    ) -> MatrixUser:
        """Create a user via the shared-secret admin API: works with registration closed and needs no client."""
        nonce = str(self.api("GET", "/_synapse/admin/v1/register")["nonce"])
        kind = "admin" if admin else "notadmin"
        message = "\x00".join([nonce, localpart, password, kind]).encode()
        mac = hmac.new(self._secret.encode(), message, hashlib.sha1).hexdigest()
        body = {"nonce": nonce, "username": localpart, "password": password, "admin": admin, "mac": mac}
        reply = self.api("POST", "/_synapse/admin/v1/register", body=body)
        return MatrixUser(reply["user_id"], reply["access_token"], password, reply.get("device_id"))

    def api(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: Mapping[str, Any] | None = None,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        """One JSON request to this server (path starts with /_matrix or /_synapse); HTTP errors raise SynapseError."""
        request = urllib.request.Request(  # noqa: S310 - the URL is always our own http://127.0.0.1
            self.url + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {}),
        )
        try:
            with _OPENER.open(request, timeout=timeout) as response:
                reply = json.load(response)
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            raise SynapseError(f"{method} {path}: HTTP {exc.code} {detail}", status=exc.code) from exc
        if not isinstance(reply, dict):
            raise SynapseError(f"{method} {path}: expected a JSON object, got {reply!r}")
        return reply

    def __repr__(self) -> str:
        return f"LocalSynapse({str(self.workdir)!r}, url={self.url!r}, pid={self.pid})"

    def _existing_settings(self) -> tuple[int | None, str | None]:
        """Port and shared secret from a homeserver.yaml written by an earlier LocalSynapse on this workdir."""
        if not self.config_path.exists():
            return None, None
        config = yaml.safe_load(self.config_path.read_text(encoding="utf-8"))
        return int(config["listeners"][0]["port"]), str(config["registration_shared_secret"])

    def _config(self) -> dict[str, Any]:
        w = self.workdir
        config: dict[str, Any] = {
            "server_name": self.server_name,
            "report_stats": False,
            "listeners": [
                {
                    "port": self.port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {"name": "sqlite3", "args": {"database": str(w / "homeserver.db")}},
            "media_store_path": str(w / "media_store"),
            "signing_key_path": str(w / "signing.key"),
            "log_config": str(w / LOG_CONFIG_NAME),
            "registration_shared_secret": self._secret,
            "enable_registration": False,
            "presence": {"enabled": False},
            "bcrypt_rounds": 4,
            "enable_metrics": False,
            "url_preview_enabled": False,
            # Never talk to other servers (matrix.org included): no key servers, no federation targets.
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "federation_domain_whitelist": [],
        }
        if self.relaxed_rate_limits:
            config.update(relaxed_rate_limits())
        return config

    def _write_config(self) -> None:
        # WARNING and up only, into the same file as stdout/stderr: one place to look, quiet test output.
        log_config = {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
            "handlers": {
                "file": {
                    "class": "logging.FileHandler",
                    "filename": str(self.log_path),
                    "formatter": "plain",
                    "encoding": "utf-8",
                }
            },
            "root": {"level": "WARNING", "handlers": ["file"]},
        }
        (self.workdir / LOG_CONFIG_NAME).write_text(yaml.safe_dump(log_config, sort_keys=False), encoding="utf-8")
        header = "# Written by demo.devserver.synapse.LocalSynapse on every start; edits are overwritten.\n"
        self.config_path.write_text(header + yaml.safe_dump(self._config(), sort_keys=False), encoding="utf-8")

    def _wait_ready(self, proc: subprocess.Popen[bytes], timeout: float) -> None:
        """Poll the client API's versions endpoint until it answers 200, the process dies, or time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            code = proc.poll()
            if code is not None:
                raise SynapseError(f"Synapse exited with code {code} before it was ready. Log tail:\n{self.log_tail()}")
            try:
                with _OPENER.open(self.url + READY_PATH, timeout=1.0) as response:
                    if response.status == 200:
                        return
            except OSError:  # refused while starting up (URLError and HTTPError are OSErrors too)
                pass
            if time.monotonic() >= deadline:
                raise SynapseError(f"Synapse not ready at {self.url} after {timeout:g} s. Log tail:\n{self.log_tail()}")
            time.sleep(POLL_INTERVAL)


def main(argv: list[str] | None = None) -> int:
    """CLI: run a Synapse in WORKDIR, print its URL on stdout, stop it on Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m demo.devserver.synapse",
        description="Run a local Synapse until Ctrl-C or SIGTERM. State is kept in WORKDIR; reruns reuse its URL.",
    )
    parser.add_argument("workdir", type=Path, metavar="WORKDIR")
    parser.add_argument("--port", type=int, help="port on 127.0.0.1 (default: the previous one, else a free one)")
    parser.add_argument("--server-name", default="localhost")
    parser.add_argument("--default-rate-limits", action="store_true", help="keep Synapse's own rate limits")
    args = parser.parse_args(argv)
    server = LocalSynapse(
        args.workdir, port=args.port, relaxed_rate_limits=not args.default_rate_limits, server_name=args.server_name
    )
    signal.signal(signal.SIGTERM, interrupt)  # stop as cleanly on SIGTERM as on Ctrl-C
    try:
        with server:
            print(server.url, flush=True)
            print(
                f"Synapse pid {server.pid}; register users with: register_new_matrix_user -c {server.config_path} "
                f"{server.url}; log: {server.log_path}",
                file=sys.stderr,
                flush=True,
            )
            code = server.wait()
    except KeyboardInterrupt:
        return 0
    print(f"Synapse exited by itself with code {code}. Log tail:\n{server.log_tail()}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
