"""Run a real image registry on 127.0.0.1: the CNCF distribution registry (Debian's ``docker-registry``).

The registry probe (:mod:`bot.probes.registry`) meets the real v2 API in tests instead of a mock: a
registry with no auth, with htpasswd basic auth, or with token auth whose tokens come from
:class:`TokenServiceStandIn` (a stand-in for a token service such as Docker Hub's or ghcr.io's: it
really signs the JWTs the registry verifies). Images are pushed with plain v2 API calls (a config blob,
a layer blob, a manifest): no Docker engine needed.

Synchronous on purpose (subprocess + urllib + http.server), like :mod:`demo.devserver.synapse`.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import io
import json
import secrets
import shutil
import signal
import subprocess
import tarfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from demo.devserver.process import LocalService, free_port, signal_group

BINARIES = ("docker-registry", "registry")  # Debian's name, upstream's
CONFIG_NAME = "config.yml"
LOG_NAME = "registry.log"
POLL_INTERVAL = 0.05
SERVICE = "ccci-local-registry"
ISSUER = "ccci-token-standin"

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"

# Never route 127.0.0.1 through an http_proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class RegistryError(RuntimeError):
    pass


def registry_binary() -> str | None:
    """The registry's program, if installed (``apt-get install docker-registry``)."""
    return next((found for name in BINARIES if (found := shutil.which(name))), None)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class TokenServiceStandIn:
    """A stand-in for a registry token service (the Bearer flow of Docker Hub and ghcr.io), on 127.0.0.1.

    ``GET /token?service=…&scope=repository:<name>:<actions>`` answers ``{"token": …}``: a JWT signed
    (RS256) with a key whose self-signed certificate the registry trusts (``rootcertbundle``). With valid
    basic credentials (``users``) every asked action is granted; anonymously only ``pull`` of the
    ``public`` repositories (the token is issued, with no access, for the others, as Docker Hub does);
    wrong credentials get a 401. ``requests`` counts what it answered."""

    def __init__(self, workdir: Path, users: Mapping[str, str], public: frozenset[str] = frozenset()) -> None:
        self.workdir = workdir
        self.users = dict(users)
        self.public = public
        self.port = free_port()
        self.realm = f"http://127.0.0.1:{self.port}/token"
        self.cert_path = workdir / "token-cert.pem"
        self.requests = 0
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._cert = self._self_signed()
        self._server: ThreadingHTTPServer | None = None

    def _self_signed(self) -> x509.Certificate:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
        now = dt.datetime.now(dt.UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .sign(self._key, hashes.SHA256())
        )

    def token(self, subject: str, access: list[dict[str, Any]]) -> str:
        """A token the registry accepts, granting ``access`` (``[{"type", "name", "actions"}]``)."""
        now = int(time.time())
        der = self._cert.public_bytes(serialization.Encoding.DER)
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode("ascii")]}
        claims = {
            "iss": ISSUER,
            "sub": subject,
            "aud": SERVICE,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        signing = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = self._key.sign(signing.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing}.{_b64url(signature)}"

    def grant(self, user: str | None, scope: str) -> list[dict[str, Any]]:
        kind, _, rest = scope.partition(":")
        name, _, actions = rest.rpartition(":")
        if kind != "repository" or not name:
            return []
        wanted = [a for a in actions.split(",") if a]
        allowed = wanted if user is not None else [a for a in wanted if a == "pull" and name in self.public]
        return [{"type": "repository", "name": name, "actions": allowed}] if allowed else []

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.cert_path.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                standin.requests += 1
                query = parse_qs(urlsplit(self.path).query)
                user = standin._user(self.headers.get("Authorization"))
                if user is False:
                    self._send(401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]})
                    return
                name = user if isinstance(user, str) else None
                access = [g for scope in query.get("scope", []) for g in standin.grant(name, scope)]
                self._send(200, {"token": standin.token(name or "", access)})

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, name="token-standin", daemon=True).start()

    def _user(self, header: str | None) -> str | bool | None:
        """The user of valid basic credentials, None without credentials, False for wrong ones."""
        if not header:
            return None
        scheme, _, value = header.partition(" ")
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except ValueError:
            return False
        if scheme.lower() != "basic" or self.users.get(user) != password:
            return False
        return user

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@dataclass(frozen=True)
class Pushed:
    """An image pushed to the registry: its manifest's digest and media type."""

    digest: str
    media_type: str


class LocalRegistry(LocalService):
    """The distribution registry on 127.0.0.1 with its storage, config and log in ``workdir``.

    ``htpasswd``: users for basic auth (hashed with ``htpasswd -B``, from apache2-utils). ``token``: a
    :class:`TokenServiceStandIn` whose tokens the registry accepts. Neither: no auth."""

    def __init__(
        self,
        workdir: Path,
        *,
        htpasswd: Mapping[str, str] | None = None,
        token: TokenServiceStandIn | None = None,
    ) -> None:
        binary = registry_binary()
        if binary is None:
            raise RegistryError("no registry program: apt-get install docker-registry")
        self.binary = binary
        self.workdir = workdir.resolve()
        self.htpasswd = dict(htpasswd or {})
        self.token = token
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        self.config_path = self.workdir / CONFIG_NAME
        self.log_path = self.workdir / LOG_NAME
        self._proc: subprocess.Popen[bytes] | None = None

    def _config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "info", "accesslog": {"disabled": False}},
            "storage": {"filesystem": {"rootdirectory": str(self.workdir / "data")}, "delete": {"enabled": True}},
            "http": {"addr": self.host, "secret": secrets.token_hex(16)},
        }
        if self.htpasswd:
            config["auth"] = {"htpasswd": {"realm": "ccci-local", "path": str(self.workdir / "htpasswd")}}
        elif self.token is not None:
            config["auth"] = {
                "token": {
                    "realm": self.token.realm,
                    "service": SERVICE,
                    "issuer": ISSUER,
                    "rootcertbundle": str(self.token.cert_path),
                }
            }
        return config

    def _write_htpasswd(self) -> None:
        lines = []
        for user, password in self.htpasswd.items():
            done = subprocess.run(
                ["htpasswd", "-nbB", user, password], capture_output=True, text=True, check=True, timeout=30
            )
            lines.append(done.stdout.strip())
        (self.workdir / "htpasswd").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def start(self, timeout: float = 30.0) -> None:
        """Write the config, start the registry and return once ``/v2/`` answers."""
        if self.running:
            raise RegistryError(f"the registry already runs at {self.url}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.htpasswd:
            self._write_htpasswd()
        self.config_path.write_text(yaml.safe_dump(self._config(), sort_keys=False), encoding="utf-8")
        proc = self._spawn([self.binary, "serve", str(self.config_path)], self.workdir)
        try:
            self._wait_ready(proc, timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, proc: subprocess.Popen[bytes], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            code = proc.poll()
            if code is not None:
                raise RegistryError(f"the registry exited with code {code}. Log tail:\n{self.log_tail()}")
            status = self._status("GET", "/v2/")
            if status in (200, 401):
                return
            if time.monotonic() >= deadline:
                raise RegistryError(f"the registry is not ready after {timeout:g} s. Log tail:\n{self.log_tail()}")
            time.sleep(POLL_INTERVAL)

    def _status(self, method: str, path: str) -> int | None:
        req = urllib.request.Request(self.url + path, method=method)  # noqa: S310 - our own http://127.0.0.1
        try:
            with _OPENER.open(req, timeout=1.0) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return None

    def stop(self, timeout: float = 30.0) -> None:
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
        signal_group(proc.pid, signal.SIGKILL)

    def requests(self, method: str, path: str) -> int:
        """How many ``method path`` requests the registry's access log shows (how often it was asked)."""
        needle = f'"{method} {path} HTTP/'
        with self.log_path.open(encoding="utf-8", errors="replace") as log:
            return sum(needle in line for line in log)

    # --- pushing an image with plain v2 API calls ------------------------------------------------

    def push(self, name: str, tag: str, *, oci: bool = False, headers: Mapping[str, str] | None = None) -> Pushed:
        """Push a small image (one layer holding a file) as ``name:tag``; ``headers`` carry auth."""
        auth = dict(headers or {})
        layer = _layer(f"{name}:{tag}".encode())
        diff_id = "sha256:" + hashlib.sha256(gzip.decompress(layer)).hexdigest()
        image_config = json.dumps(
            {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [diff_id]}}
        ).encode()
        config_digest = self._upload(name, image_config, auth)
        layer_digest = self._upload(name, layer, auth)
        media_type = OCI_MANIFEST if oci else DOCKER_MANIFEST
        manifest = {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json"
                if oci
                else "application/vnd.docker.container.image.v1+json",
                "size": len(image_config),
                "digest": config_digest,
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip"
                    if oci
                    else "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": len(layer),
                    "digest": layer_digest,
                }
            ],
        }
        body = json.dumps(manifest).encode()
        resp = self._call("PUT", f"/v2/{name}/manifests/{tag}", body, {"Content-Type": media_type, **auth})
        return Pushed(resp.headers.get("Docker-Content-Digest", ""), media_type)

    def _upload(self, name: str, blob: bytes, auth: Mapping[str, str]) -> str:
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        started = self._call("POST", f"/v2/{name}/blobs/uploads/", b"", dict(auth))
        location = urljoin(self.url + "/", started.headers["Location"])
        joiner = "&" if "?" in location else "?"
        headers = {"Content-Type": "application/octet-stream", **auth}
        self._call("PUT", location + f"{joiner}digest={digest}", blob, headers)
        return digest

    def _call(self, method: str, path: str, body: bytes, headers: Mapping[str, str]) -> Any:
        url = path if path.startswith("http") else self.url + path
        req = urllib.request.Request(url, data=body, method=method, headers=dict(headers))  # noqa: S310 - 127.0.0.1
        try:
            with _OPENER.open(req, timeout=30) as resp:
                resp.read()
                return resp
        except urllib.error.HTTPError as exc:
            raise RegistryError(f"{method} {url}: {exc.code} {exc.read()[:300]!r}") from exc


def _layer(content: bytes) -> bytes:
    """A gzipped tar with one file: the smallest layer a registry stores like any other."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = len(content)
        info.mtime = 0
        tar.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue(), mtime=0)


def basic(user: str, password: str) -> dict[str, str]:
    """An ``Authorization: Basic`` header."""
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")}
