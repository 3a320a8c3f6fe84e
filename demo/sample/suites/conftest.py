"""The deployed app as these tests see it: a simulation built from the recipe clone.

The stand-in runner (demo.sample.standin_runner) runs these suites instead of cc-ci's tests
against a live swarm. `Stack` reads the run's recipe clone (the compose files its COMPOSE_FILE names,
merged as abra deploys them (demo.sample.deployed), .env.sample, tags) and the run's environment,
and behaves the way the real stack would:

- RECIPE, VERSION, ABRA_DIR: which recipe clone (`$ABRA_DIR/recipes/$RECIPE`) is deployed;
- CCCI_SAMPLE_LOAD=1: other runs share the node, everything answers ~3x slower;
- CCCI_SAMPLE_DOCKER=down: the Docker daemon is unreachable;
- CCCI_SAMPLE_WORLD + CCCI_SAMPLE_CLOCK: the registry (images withdrawn upstream) at that time.
"""

import json
import os
import re
import sqlite3
import subprocess
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from demo.sample.deployed import merged, merged_in

LOADED_SLOWDOWN = 3.4
VOICE_HANDSHAKE_S = 3.5


class DockerException(Exception):
    """Raised like docker-py raises it when the daemon socket is gone."""


DockerException.__module__ = "docker.errors"


class UndefinedTable(Exception):
    """Raised like psycopg raises it for a missing relation."""


UndefinedTable.__module__ = "psycopg.errors"


def _when(text):
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _labels(body):
    return {str(k): str(v) for k, v in body.get("deploy", {}).get("labels", {}).items()}


def version_key(tag):
    """Sort key of a `<semver>+<upstream>` tag by its recipe semver."""
    return tuple(int(part) for part in tag.split("+", 1)[0].split("."))


@dataclass
class Service:
    name: str
    image: str
    labels: dict
    depends_on: list
    volumes: dict  # volume name -> mount path
    listen_port: int | None

    @classmethod
    def from_compose(cls, name, body):
        health = " ".join(body.get("healthcheck", {}).get("test", []))
        port = re.search(r"localhost:(\d+)", health)
        volumes = dict(v.split(":", 1) for v in body.get("volumes", []))
        return cls(
            name,
            body["image"],
            _labels(body),
            list(body.get("depends_on", [])),
            volumes,
            int(port.group(1)) if port else None,
        )

    @property
    def traefik_port(self):
        for key, value in self.labels.items():
            if key.endswith(".loadbalancer.server.port"):
                return int(value)
        return None


class Database:
    """A postgres service's database: sqlite underneath, postgres's errors on top."""

    def __init__(self):
        self._conn = sqlite3.connect(":memory:")

    def execute(self, sql, params=()):
        try:
            rows = self._conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            missing = re.match(r"no such table: (\w+)", str(exc))
            if missing:
                raise UndefinedTable(f'relation "{missing.group(1)}" does not exist') from None
            raise
        self._conn.commit()
        return rows

    def dump(self):
        return "\n".join(self._conn.iterdump())

    def replay(self, dump):
        self._conn = sqlite3.connect(":memory:")
        self._conn.executescript(dump)


@dataclass
class Snapshot:
    """What backupbot stored: files of labelled volumes, and dumps made by pre-hooks."""

    files: dict = field(default_factory=dict)  # volume -> {name: text}
    dumps: dict = field(default_factory=dict)  # service -> sql dump


class Stack:
    """The recipe's stack as deployed from the clone at the checked-out ref."""

    def __init__(self, recipe_dir, now, load=False, withdrawn=None):
        self.recipe_dir = Path(recipe_dir)
        compose, self.compose_text, _ = merged_in(self.recipe_dir)
        self.services = {n: Service.from_compose(n, b) for n, b in compose["services"].items()}
        self.env_sample = dict(
            line.split("=", 1)
            for line in (self.recipe_dir / ".env.sample").read_text().splitlines()
            if "=" in line and not line.startswith("#")
        )
        self.now = now
        self.load = load
        self.withdrawn = withdrawn or {}
        self.files = {vol: {} for svc in self.services.values() for vol in svc.volumes}
        self._databases = {n: Database() for n, s in self.services.items() if re.search("postgres|postgis", s.image)}

    def __repr__(self):
        return f"<Stack {self.recipe_dir.name}>"

    # -- deploy ------------------------------------------------------------------------------
    @property
    def service_names(self):
        return sorted(self.services)

    def image(self, service):
        return self.services[service].image

    def pull_errors(self, images=None):
        """Images the registry refuses at `now`, by service."""
        images = images or {n: s.image for n, s in self.services.items()}
        return {
            name: f"manifest for {image} not found: manifest unknown: manifest unknown"
            for name, image in images.items()
            if image in self.withdrawn and _when(self.withdrawn[image]) <= self.now
        }

    @property
    def update_status(self):
        return "paused" if self.pull_errors() else "completed"

    def replicas(self):
        failed = self.pull_errors()
        return {name: "0/1" if name in failed else "1/1" for name in self.services}

    @property
    def version_label(self):
        first = next(iter(self.services.values()))
        return next((v for k, v in first.labels.items() if k.endswith(".version")), None)

    def web_service(self):
        return next((s for s in self.services.values() if s.traefik_port), None)

    def http_get(self, path="/"):
        """(status, reason) of a request through traefik to the web service."""
        web = self.web_service()
        if self.replicas()[web.name] != "1/1":
            return 502, f"Bad Gateway: no running task for service {web.name}"
        if web.traefik_port != web.listen_port:
            return 502, (
                f"Bad Gateway: traefik forwards {path} to port {web.traefik_port}, "
                f"{web.name} listens on {web.listen_port}"
            )
        return 200, "OK"

    # -- backup and restore ------------------------------------------------------------------
    def backup_services(self):
        return [s for s in self.services.values() if s.labels.get("backupbot.backup") == "true"]

    def backed_up_volumes(self):
        return [vol for svc in self.backup_services() for vol in svc.volumes]

    def database(self):
        name = next(iter(self._databases))
        return self._databases[name]

    def backup(self):
        snapshot = Snapshot()
        for svc in self.backup_services():
            hook = svc.labels.get("backupbot.backup.pre-hook", "")
            if svc.name in self._databases and ("pg_dump" in hook or "pg_backup.sh backup" in hook):
                snapshot.dumps[svc.name] = self._databases[svc.name].dump()
            for vol in svc.volumes:
                snapshot.files[vol] = deepcopy(self.files[vol])
        return snapshot

    def restore(self, snapshot):
        """Put files back; only a restore post-hook replays a dump into the running database.

        Files copied over a running postgres's PGDATA are not reloaded by it.
        """
        for vol, files in snapshot.files.items():
            self.files[vol] = deepcopy(files)
        for name, dump in snapshot.dumps.items():
            if self.services[name].labels.get("backupbot.restore.post-hook"):
                self._databases[name].replay(dump)

    # -- app behaviour -----------------------------------------------------------------------
    def compose_vars(self):
        return set(re.findall(r"\$\{(\w+)\}", self.compose_text)) - {"STACK_NAME"}

    def voice_handshake(self, timeout_s):
        """Connect a client and wait for channel presence; slower on a loaded node."""
        took = VOICE_HANDSHAKE_S * (LOADED_SLOWDOWN if self.load else 1.0)
        if took > timeout_s:
            raise TimeoutError(f"handshake did not complete within {timeout_s:g}s (channel presence not seen)")
        return took

    def export_collection(self, size_bytes):
        """State of an export job: its archive must fit the upload limit to be stored."""
        limit = int(self.env_sample.get("FILE_STORAGE_UPLOAD_MAX_SIZE", "0"))
        return "complete" if size_bytes <= limit else "failed"


def _git(recipe_dir, *args):
    return subprocess.run(["git", "-C", str(recipe_dir), *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="session")
def recipe_dir():
    return Path(os.environ["ABRA_DIR"]) / "recipes" / os.environ["RECIPE"]


@pytest.fixture(scope="session")
def release_tags(recipe_dir):
    return sorted(_git(recipe_dir, "tag", "--list").split(), key=version_key)


@pytest.fixture(scope="session")
def previous_release(recipe_dir, release_tags):
    """(tag, {service: image}) of the release before VERSION, or None for a first release."""
    current = version_key(os.environ["VERSION"])
    older = [tag for tag in release_tags if version_key(tag) < current]
    if not older:
        return None

    def read(name):
        done = subprocess.run(
            ["git", "-C", str(recipe_dir), "show", f"{older[-1]}:{name}"], capture_output=True, text=True
        )
        return done.stdout if done.returncode == 0 else None

    compose = merged(read)[0]
    return older[-1], {name: body["image"] for name, body in compose["services"].items()}


def docker_client():
    """Ping the daemon the way docker.from_env() does on first use."""
    socket = "/var/run/docker.sock"
    if os.environ.get("CCCI_SAMPLE_DOCKER") == "down":
        raise DockerException(
            "Error while fetching server API version: "
            f"('Connection aborted.', FileNotFoundError(2, 'No such file or directory: {socket}'))"
        )
    return socket


@pytest.fixture
def stack(recipe_dir):
    docker_client()
    world_file = os.environ.get("CCCI_SAMPLE_WORLD")
    world = json.loads(Path(world_file).read_text()) if world_file else {}
    clock = os.environ.get("CCCI_SAMPLE_CLOCK")
    now = _when(clock) if clock else datetime.now(UTC)
    return Stack(
        recipe_dir, now, os.environ.get("CCCI_SAMPLE_LOAD", "0") not in ("", "0"), world.get("withdrawn_images")
    )
