"""The node's Docker credentials, read from a ``config.json`` as ``docker login`` writes it.

Only ``auths`` entries with a base64 ``auth`` (``user:password``) are read. Credential helpers
(``credsStore``, ``credHelpers``) are not run: a probe never starts a program. When they are
configured, :attr:`DockerAuth.helpers` says so, and a probe refused for want of credentials says
that its answer may differ from the node's. Registry keys are normalised as Docker does
(``https://index.docker.io/v1/`` is ``docker.io``).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.probes.imageref import DOCKER_HUB, DOCKER_HUB_API, LEGACY_HUB

MAX_BYTES = 1024 * 1024  # a config.json is a few hundred bytes; a bigger one is not read


@dataclass(frozen=True, repr=False)
class Credentials:
    """A user name and password for one registry (never printed: no repr)."""

    username: str
    password: str

    def basic(self) -> str:
        """The value of an ``Authorization: Basic`` header."""
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True)
class DockerAuth:
    """What a Docker config file holds for the probes."""

    path: Path
    auths: Mapping[str, Credentials] = field(default_factory=dict, repr=False)  # by registry host, normalised
    helpers: tuple[str, ...] = ()  # credsStore / credHelpers present: not read
    problem: str | None = None  # why the file, or an entry of it, could not be used (no path: it may reach chat)

    def for_host(self, host: str) -> Credentials | None:
        return self.auths.get(registry_host(host))


def default_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where Docker's client looks: ``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``."""
    env = os.environ if environ is None else environ
    if env.get("DOCKER_CONFIG"):
        return Path(env["DOCKER_CONFIG"]) / "config.json"
    return Path.home() / ".docker" / "config.json"


def registry_host(key: str) -> str:
    """A registry as Docker keys its credentials: no scheme, no path, lower case; the Hub is ``docker.io``."""
    host = key.strip()
    for scheme in ("https://", "http://"):
        if host.lower().startswith(scheme):
            host = host[len(scheme) :]
    host = host.split("/", 1)[0].lower()
    return DOCKER_HUB if host in (LEGACY_HUB, DOCKER_HUB_API) else host


def read_docker_auth(path: Path) -> DockerAuth:
    """The credentials in ``path``; a missing file is no credentials, an unreadable one says why."""
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return DockerAuth(path)
    except OSError as exc:
        return DockerAuth(path, problem=f"the Docker config cannot be read ({exc.strerror or type(exc).__name__})")
    if len(raw) > MAX_BYTES:
        return DockerAuth(path, problem=f"the Docker config is over {MAX_BYTES} bytes: not read")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return DockerAuth(path, problem="the Docker config is not valid JSON")
    if not isinstance(data, dict):
        return DockerAuth(path, problem="the Docker config is not a JSON object")
    helpers = tuple(k for k in ("credsStore", "credHelpers") if data.get(k))
    auths: dict[str, Credentials] = {}
    bad: list[str] = []
    entries = data.get("auths")
    for key, entry in (entries if isinstance(entries, dict) else {}).items():
        creds = _credentials(entry)
        if creds is None:
            if isinstance(entry, dict) and entry.get("auth"):  # an entry without "auth" is a helper's stub
                bad.append(str(key))
            continue
        auths[registry_host(str(key))] = creds
    problem = f"the Docker config's auth for {', '.join(bad)} is not base64 of user:password" if bad else None
    return DockerAuth(path, auths, helpers, problem)


def _credentials(entry: object) -> Credentials | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("auth"), str):
        return None
    try:
        decoded = base64.b64decode(entry["auth"], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return Credentials(user, password) if sep and user else None
