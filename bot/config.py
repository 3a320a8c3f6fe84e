"""Configuration: YAML validated at load into typed, frozen objects.

Every error names the key path and what was expected, so an operator can fix the file without reading
code. Secrets are never written in the file: a key ending in ``_env`` names the environment variable
that holds them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

T = TypeVar("T")

DEFAULT_RUNS_DIR = Path("/var/lib/cc-ci-runs")
DEFAULT_WARM_DIR = Path("/var/lib/ci-warm")
DEFAULT_ACTIVE_DIR = Path("/run/cc-ci-active")
DEFAULT_DATA_DIR = Path("/var/lib/ccci-bot")

# Keys whose value would be a secret: refused in the file, the operator names an env var instead.
_SECRET_WORDS = ("password", "token", "secret")


class ConfigError(ValueError):
    """A configuration problem, phrased as ``key.path: expected …, got …``."""


@dataclass(frozen=True)
class CcciConfig:
    """Where cc-ci writes its artifacts and what it names them."""

    runs_dir: Path = DEFAULT_RUNS_DIR
    warm_dir: Path = DEFAULT_WARM_DIR
    active_dir: Path = DEFAULT_ACTIVE_DIR
    log_name: str = "run.log"
    results_name: str = "results.json"
    junit_dir: str = "junit"
    canonical_name: str = "canonical.json"
    # A run dir without results.json whose files changed less than this long ago is still being written.
    settle_s: float = 120.0
    # Sweep-kind runs closer than this in time belong to the same sweep.
    sweep_gap_s: float = 900.0
    # Recipe clones (<recipes_dir>/<recipe>, git repos) for the stale-test search when a run dir has none.
    recipes_dir: Path | None = None


@dataclass(frozen=True)
class LinksConfig:
    """How evidence links are built; ``None`` means no links."""

    base_url: str | None = None


@dataclass(frozen=True)
class MatrixConfig:
    """The homeserver account the bot uses and the rooms it lives in. Secrets come from the environment."""

    homeserver: str | None = None
    user_id: str | None = None
    access_token_env: str | None = None
    password_env: str | None = None
    device_name: str = "ccci-bot"
    rooms: tuple[str, ...] = ()
    command_prefix: str = "!ccci"
    sync_timeout_s: float = 30.0
    # Backoff between failed syncs/sends: doubles from min to max, with jitter.
    backoff_min_s: float = 1.0
    backoff_max_s: float = 60.0

    def missing(self) -> list[str]:
        """What `ccci-bot run` needs that is not configured."""
        found = []
        if not self.homeserver:
            found.append("matrix.homeserver: required to run the bot (e.g. https://matrix.example.org)")
        if not self.user_id:
            found.append("matrix.user_id: required to run the bot (e.g. @ccci-bot:example.org)")
        if not self.access_token_env and not self.password_env:
            found.append(
                "matrix.access_token_env or matrix.password_env: name the environment variable with the secret"
            )
        if not self.rooms:
            found.append("matrix.rooms: list at least one room id or alias")
        return found


@dataclass(frozen=True)
class AccessConfig:
    """Who may run commands that act (everyone in the rooms may ask)."""

    operators: tuple[str, ...] = ()
    min_power_level: int = 50


DEFAULT_STEPS: tuple[tuple[str, ...], ...] = (
    ("abra", "recipe", "checkout", "{recipe}", "{version}"),
    ("cc-ci-run", "runner/run_recipe_ci.py"),
)


@dataclass(frozen=True)
class RunnerConfig:
    """How an isolation rerun is started: argv templates (never a shell string), as cc-ci does it."""

    steps: tuple[tuple[str, ...], ...] = DEFAULT_STEPS
    env: tuple[tuple[str, str], ...] = (("RECIPE", "{recipe}"), ("CCCI_SKIP_FETCH", "1"))
    cwd: Path | None = None
    timeout_s: float = 3600.0  # cc-ci's own 60-minute deadline
    max_times: int = 5
    queue_max: int = 10
    busy_wait_s: float = 1800.0
    busy_poll_s: float = 15.0
    version_pattern: str = r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$"


@dataclass(frozen=True)
class DockerConfig:
    """The CI node's Docker engine, for the idle check before a rerun and the teardown check after."""

    base_url: str | None = "unix:///var/run/docker.sock"
    allowed_stacks: tuple[str, ...] = ("traefik", "backupbot")


@dataclass(frozen=True)
class KnowledgeConfig:
    """Operators' own signature directories, added to the shipped knowledge base."""

    dirs: tuple[Path, ...] = ()


@dataclass(frozen=True)
class EvidenceConfig:
    """How much of a log is quoted around a failure."""

    context_lines: int = 3
    max_log_hits: int = 4
    max_excerpt_chars: int = 1500
    # Environment variables whose values never appear in chat or pages (masked as ••••••); the bot's
    # own secret variables are always added.
    mask_env: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReportsConfig:
    """Sweep summaries and the scheduled red report: where, when, and how eagerly to settle verdicts."""

    rooms: tuple[str, ...] = ()  # empty: the matrix.rooms
    poll_s: float = 60.0  # how often the runs dir is scanned (a webhook can wake the scan sooner)
    quiet_s: float = 600.0  # a sweep is finished when nothing is in flight and no run appeared for this long
    cron: str = "0 7 * * *"  # the red report; an optional sixth leading field is seconds
    timezone: str = "UTC"
    misfire_grace_s: float = 43200.0  # a slot missed by less than this is still sent on start (marked late)
    auto_rerun: bool = True  # rerun newly red recipes whose verdict is not settled yet
    auto_rerun_max: int = 5  # at most this many automatic reruns per sweep
    settled_confidence: float = 0.8  # a verdict at least this sure needs no automatic rerun
    thread_over: int = 5  # more red recipes than this: a short headline, the details in its thread
    flip_window: int = 10  # sweeps looked back over to count red/green flips
    webhook_secret_env: str | None = None  # enables POST /hooks/run-finished (HMAC-SHA256 of the body)

    def report_rooms(self, matrix_rooms: tuple[str, ...]) -> tuple[str, ...]:
        return self.rooms or matrix_rooms


@dataclass(frozen=True)
class WebAuthConfig:
    """Optional access control for the pages: a bearer token, or basic auth (secrets from the environment)."""

    bearer_token_env: str | None = None
    basic_user: str | None = None
    basic_password_env: str | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.bearer_token_env or self.basic_password_env)


@dataclass(frozen=True)
class WebConfig:
    """The bot's HTTP server (webhook, evidence pages); ``listen`` None means no server."""

    listen: str | None = None  # host:port, e.g. 127.0.0.1:8080
    public_url: str | None = None  # how operators reach it; links in chat point here unless links.base_url is set
    auth: WebAuthConfig = field(default_factory=WebAuthConfig)
    log_page_lines: int = 500


@dataclass(frozen=True)
class Config:
    """The whole configuration of one bot."""

    ccci: CcciConfig = field(default_factory=CcciConfig)
    links: LinksConfig = field(default_factory=LinksConfig)
    evidence: EvidenceConfig = field(default_factory=EvidenceConfig)
    knowledge: KnowledgeConfig = field(default_factory=KnowledgeConfig)
    matrix: MatrixConfig = field(default_factory=MatrixConfig)
    access: AccessConfig = field(default_factory=AccessConfig)
    runner: RunnerConfig = field(default_factory=RunnerConfig)
    docker: DockerConfig = field(default_factory=DockerConfig)
    reports: ReportsConfig = field(default_factory=ReportsConfig)
    web: WebConfig = field(default_factory=WebConfig)
    data_dir: Path = DEFAULT_DATA_DIR
    source: Path | None = None

    @property
    def db_path(self) -> Path:
        return self.data_dir / "ccci-bot.sqlite3"

    @property
    def link_base(self) -> str | None:
        """Where evidence links point: cc-ci's dashboard when configured, else the bot's own pages."""
        if self.links.base_url:
            return self.links.base_url
        if self.web.public_url:
            return f"{self.web.public_url}/runs/{{run_id}}/{{path}}?line={{line}}"
        return None

    @property
    def secret_envs(self) -> tuple[str, ...]:
        """Every environment variable whose value must never be shown (masked in chat and pages)."""
        names = [
            self.matrix.access_token_env,
            self.matrix.password_env,
            self.reports.webhook_secret_env,
            self.web.auth.bearer_token_env,
            self.web.auth.basic_password_env,
            *self.evidence.mask_env,
        ]
        return tuple(dict.fromkeys(n for n in names if n))

    def with_overrides(
        self,
        *,
        runs_dir: Path | None = None,
        warm_dir: Path | None = None,
        data_dir: Path | None = None,
    ) -> Config:
        """Apply command-line flags, which win over the file."""
        ccci = self.ccci
        if runs_dir is not None:
            ccci = replace(ccci, runs_dir=runs_dir)
        if warm_dir is not None:
            ccci = replace(ccci, warm_dir=warm_dir)
        return replace(self, ccci=ccci, data_dir=data_dir if data_dir is not None else self.data_dir)

    def problems(self) -> list[str]:
        """Checks against the machine (not the file): what would stop the bot from working."""
        found: list[str] = []
        if not self.ccci.runs_dir.is_dir():
            found.append(f"ccci.runs_dir: expected a directory, got {describe_path(self.ccci.runs_dir)}")
        if self.ccci.warm_dir.exists() and not self.ccci.warm_dir.is_dir():
            found.append(f"ccci.warm_dir: expected a directory, got {describe_path(self.ccci.warm_dir)}")
        if self.data_dir.exists() and not self.data_dir.is_dir():
            found.append(f"data_dir: expected a directory, got {describe_path(self.data_dir)}")
        return found

    def warnings(self) -> list[str]:
        """Not fatal, but worth saying: missing optional dirs mean missing evidence."""
        found: list[str] = []
        if not self.ccci.warm_dir.exists():
            found.append(f"ccci.warm_dir: {self.ccci.warm_dir} does not exist; no canonical records")
        if not self.ccci.active_dir.exists():
            found.append(f"ccci.active_dir: {self.ccci.active_dir} does not exist; nothing counts as in flight")
        return found


def describe_path(path: Path) -> str:
    if not path.exists():
        return f"{path} (does not exist)"
    if path.is_file():
        return f"{path} (a file)"
    return str(path)


def secret_from_env(var_name: str | None, key: str, environ: Mapping[str, str] | None = None) -> str | None:
    """Read a secret from the environment variable a config key names."""
    if not var_name:
        return None
    value = (os.environ if environ is None else environ).get(var_name)
    if value is None:
        raise ConfigError(f"{key}: environment variable {var_name} is not set")
    return value


# --- parsing -------------------------------------------------------------------------------------


class _Section:
    """A mapping being parsed; remembers its key path and refuses keys nobody asked for."""

    def __init__(self, data: Any, path: str) -> None:
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ConfigError(f"{path or 'the file'}: expected a mapping, got {_kind(data)}")
        self.data: Mapping[str, Any] = data
        self.path = path
        self.seen: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def get(self, name: str, default: T, convert: Callable[[Any, str], T]) -> T:
        self.seen.add(name)
        if name not in self.data or self.data[name] is None:
            return default
        return convert(self.data[name], self.key(name))

    def section(self, name: str) -> _Section:
        self.seen.add(name)
        return _Section(self.data.get(name), self.key(name))

    def finish(self) -> None:
        for name in self.data:
            key = self.key(str(name))
            if any(word in str(name).lower() for word in _SECRET_WORDS) and not str(name).endswith("_env"):
                raise ConfigError(
                    f"{key}: secrets are not read from the file; set {key}_env to the name of an "
                    "environment variable that holds it"
                )
            if name not in self.seen:
                raise ConfigError(f"{key}: unknown key (allowed: {', '.join(sorted(self.seen))})")


def _kind(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"[:80]


def _path(value: Any, key: str) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{key}: expected a path, got {_kind(value)}")
    return Path(value).expanduser()


def _path_list(value: Any, key: str) -> tuple[Path, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{key}: expected a list of paths, got {_kind(value)}")
    return tuple(_path(v, f"{key}[{i}]") for i, v in enumerate(value))


_USER_ID = re.compile(r"^@[a-z0-9._=/+-]+:[A-Za-z0-9.-]+(?::\d+)?$")
# Room ids of room versions ≥ 12 have no ":server" part; aliases always do.
_ROOM = re.compile(r"^(?:![^\s:]+(?::[A-Za-z0-9.-]+(?::\d+)?)?|#[^:\s]+:[A-Za-z0-9.-]+(?::\d+)?)$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _http_url(value: Any, key: str) -> str:
    text = _str(value, key)
    if not text.startswith(("http://", "https://")):
        raise ConfigError(f"{key}: expected an http(s) URL, got {text!r}")
    return text.rstrip("/")


def _user_id(value: Any, key: str) -> str:
    text = _str(value, key)
    if not _USER_ID.match(text):
        raise ConfigError(f"{key}: expected a Matrix user id like @bot:example.org, got {text!r}")
    return text


def _user_ids(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{key}: expected a list of Matrix user ids, got {_kind(value)}")
    return tuple(_user_id(v, f"{key}[{i}]") for i, v in enumerate(value))


def _rooms(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{key}: expected a non-empty list of room ids (!id:server) or aliases (#name:server)")
    rooms = tuple(_str(v, f"{key}[{i}]") for i, v in enumerate(value))
    for i, room in enumerate(rooms):
        if not _ROOM.match(room):
            raise ConfigError(f"{key}[{i}]: expected a room id (!id:server) or alias (#name:server), got {room!r}")
    return rooms


def _env_name(value: Any, key: str) -> str:
    text = _str(value, key)
    if not _ENV_NAME.match(text):
        raise ConfigError(f"{key}: expected an environment variable name, got {text!r}")
    return text


def _env_names(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{key}: expected a list of environment variable names, got {_kind(value)}")
    return tuple(_env_name(v, f"{key}[{i}]") for i, v in enumerate(value))


def _prefix(value: Any, key: str) -> str:
    text = _str(value, key)
    if any(ch.isspace() for ch in text):
        raise ConfigError(f"{key}: expected a prefix without spaces, got {text!r}")
    return text


def _int(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{key}: expected an integer, got {_kind(value)}")
    return value


_PLACEHOLDERS = {"recipe", "version", "run_id"}


def _template(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{key}: expected a string, got {_kind(value)}")
    names = set(re.findall(r"{(\w*)}", value))
    if names - _PLACEHOLDERS:
        raise ConfigError(
            f"{key}: unknown placeholder(s) {sorted(names - _PLACEHOLDERS)}; allowed: {sorted(_PLACEHOLDERS)}"
        )
    return value


def _argv_list(value: Any, key: str) -> tuple[tuple[str, ...], ...]:
    if not isinstance(value, list) or not value or not all(isinstance(step, list) and step for step in value):
        raise ConfigError(f"{key}: expected a list of argv lists (never a shell string), e.g. [[abra, recipe, ...]]")
    return tuple(
        tuple(_template(arg, f"{key}[{i}][{j}]") for j, arg in enumerate(step)) for i, step in enumerate(value)
    )


def _env_map(value: Any, key: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected a mapping of environment variables, got {_kind(value)}")
    return tuple((_env_name(k, f"{key}.{k}"), _template(str(v), f"{key}.{k}")) for k, v in value.items())


def _regex(value: Any, key: str) -> str:
    text = _str(value, key)
    try:
        re.compile(text)
    except re.error as exc:
        raise ConfigError(f"{key}: invalid regular expression ({exc})") from exc
    return text


def _docker_url(value: Any, key: str) -> str:
    text = _str(value, key)
    if not text.startswith(("unix://", "tcp://", "http://", "https://", "ssh://")):
        raise ConfigError(f"{key}: expected a Docker URL (unix:///var/run/docker.sock, tcp://host:2376), got {text!r}")
    return text


def _name_list(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{key}: expected a list of names, got {_kind(value)}")
    return tuple(_str(v, f"{key}[{i}]") for i, v in enumerate(value))


def _str(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{key}: expected a non-empty string, got {_kind(value)}")
    return value


def _name(value: Any, key: str) -> str:
    text = _str(value, key)
    if "/" in text or text in (".", ".."):
        raise ConfigError(f"{key}: expected a file name without '/', got {text!r}")
    return text


def _seconds(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"{key}: expected a number of seconds >= 0, got {_kind(value)}")
    return float(value)


def _positive_int(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{key}: expected an integer >= 1, got {_kind(value)}")
    return value


def _positive_seconds(value: Any, key: str) -> float:
    seconds = _seconds(value, key)
    if seconds <= 0:
        raise ConfigError(f"{key}: expected a number of seconds > 0, got {_kind(value)}")
    return seconds


def _int_at_least_0(value: Any, key: str) -> int:
    number = _int(value, key)
    if number < 0:
        raise ConfigError(f"{key}: expected an integer >= 0, got {_kind(value)}")
    return number


def _bool(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key}: expected true or false, got {_kind(value)}")
    return value


def _fraction(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ConfigError(f"{key}: expected a number from 0 to 1, got {_kind(value)}")
    return float(value)


def _timezone(value: Any, key: str) -> str:
    text = _str(value, key)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"{key}: expected an IANA time zone like UTC or Europe/Berlin, got {text!r}") from exc
    return text


def _cron(value: Any, key: str) -> str:
    from bot.reports.schedule import CronError, parse_cron

    text = _str(value, key)
    try:
        parse_cron(text, "UTC")
    except CronError as exc:
        raise ConfigError(f"{key}: {exc}") from exc
    return text


def listen_address(value: Any, key: str) -> str:
    text = _str(value, key)
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{key}: expected host:port like 127.0.0.1:8080, got {text!r}")
    return text


def _url_template(value: Any, key: str) -> str:
    text = _str(value, key)
    if "{run_id}" not in text:
        raise ConfigError(f"{key}: expected a URL template containing {{run_id}}, got {text!r}")
    try:
        text.format(run_id="x", path="y")
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(f"{key}: only {{run_id}} and {{path}} placeholders are allowed ({exc})") from exc
    return text


def parse_config(data: Any, source: Path | None = None) -> Config:
    """Validate a loaded YAML document into a :class:`Config`."""
    root = _Section(data, "")
    c = root.section("ccci")
    d = CcciConfig()
    ccci = CcciConfig(
        runs_dir=c.get("runs_dir", d.runs_dir, _path),
        warm_dir=c.get("warm_dir", d.warm_dir, _path),
        active_dir=c.get("active_dir", d.active_dir, _path),
        log_name=c.get("log_name", d.log_name, _name),
        results_name=c.get("results_name", d.results_name, _name),
        junit_dir=c.get("junit_dir", d.junit_dir, _name),
        canonical_name=c.get("canonical_name", d.canonical_name, _name),
        settle_s=c.get("settle_s", d.settle_s, _seconds),
        sweep_gap_s=c.get("sweep_gap_s", d.sweep_gap_s, _seconds),
        recipes_dir=c.get("recipes_dir", None, _path),
    )
    if "scan_interval_s" in c.data:
        raise ConfigError("ccci.scan_interval_s: renamed to reports.poll_s (how often the runs dir is scanned)")
    c.finish()
    lk = root.section("links")
    links = LinksConfig(base_url=lk.get("base_url", None, _url_template))
    lk.finish()
    ev = root.section("evidence")
    de = EvidenceConfig()
    evidence = EvidenceConfig(
        context_lines=ev.get("context_lines", de.context_lines, _positive_int),
        max_log_hits=ev.get("max_log_hits", de.max_log_hits, _positive_int),
        max_excerpt_chars=ev.get("max_excerpt_chars", de.max_excerpt_chars, _positive_int),
        mask_env=ev.get("mask_env", (), _env_names),
    )
    ev.finish()
    kn = root.section("knowledge")
    knowledge = KnowledgeConfig(dirs=kn.get("dirs", (), _path_list))
    kn.finish()
    m = root.section("matrix")
    dm = MatrixConfig()
    matrix = MatrixConfig(
        homeserver=m.get("homeserver", None, _http_url),
        user_id=m.get("user_id", None, _user_id),
        access_token_env=m.get("access_token_env", None, _env_name),
        password_env=m.get("password_env", None, _env_name),
        device_name=m.get("device_name", dm.device_name, _str),
        rooms=m.get("rooms", (), _rooms),
        command_prefix=m.get("command_prefix", dm.command_prefix, _prefix),
        sync_timeout_s=m.get("sync_timeout_s", dm.sync_timeout_s, _seconds),
        backoff_min_s=m.get("backoff_min_s", dm.backoff_min_s, _seconds),
        backoff_max_s=m.get("backoff_max_s", dm.backoff_max_s, _seconds),
    )
    m.finish()
    a = root.section("access")
    access = AccessConfig(
        operators=a.get("operators", (), _user_ids),
        min_power_level=a.get("min_power_level", AccessConfig().min_power_level, _int),
    )
    a.finish()
    r = root.section("runner")
    dr = RunnerConfig()
    runner = RunnerConfig(
        steps=r.get("steps", dr.steps, _argv_list),
        env=r.get("env", dr.env, _env_map),
        cwd=r.get("cwd", None, _path),
        timeout_s=r.get("timeout_s", dr.timeout_s, _seconds),
        max_times=r.get("max_times", dr.max_times, _positive_int),
        queue_max=r.get("queue_max", dr.queue_max, _positive_int),
        busy_wait_s=r.get("busy_wait_s", dr.busy_wait_s, _seconds),
        busy_poll_s=r.get("busy_poll_s", dr.busy_poll_s, _seconds),
        version_pattern=r.get("version_pattern", dr.version_pattern, _regex),
    )
    r.finish()
    dk = root.section("docker")
    no_docker = "base_url" in dk.data and dk.data["base_url"] is None  # null: skip the Docker checks
    docker = DockerConfig(
        base_url=None if no_docker else dk.get("base_url", DockerConfig().base_url, _docker_url),
        allowed_stacks=dk.get("allowed_stacks", DockerConfig().allowed_stacks, _name_list),
    )
    dk.seen.add("base_url")
    dk.finish()
    rp = root.section("reports")
    drp = ReportsConfig()
    reports = ReportsConfig(
        rooms=rp.get("rooms", (), _rooms),
        poll_s=rp.get("poll_s", drp.poll_s, _positive_seconds),
        quiet_s=rp.get("quiet_s", drp.quiet_s, _seconds),
        cron=rp.get("cron", drp.cron, _cron),
        timezone=rp.get("timezone", drp.timezone, _timezone),
        misfire_grace_s=rp.get("misfire_grace_s", drp.misfire_grace_s, _positive_seconds),
        auto_rerun=rp.get("auto_rerun", drp.auto_rerun, _bool),
        auto_rerun_max=rp.get("auto_rerun_max", drp.auto_rerun_max, _positive_int),
        settled_confidence=rp.get("settled_confidence", drp.settled_confidence, _fraction),
        thread_over=rp.get("thread_over", drp.thread_over, _int_at_least_0),
        flip_window=rp.get("flip_window", drp.flip_window, _positive_int),
        webhook_secret_env=rp.get("webhook_secret_env", None, _env_name),
    )
    rp.finish()
    w = root.section("web")
    au = w.section("auth")
    auth = WebAuthConfig(
        bearer_token_env=au.get("bearer_token_env", None, _env_name),
        basic_user=au.get("basic_user", None, _str),
        basic_password_env=au.get("basic_password_env", None, _env_name),
    )
    if auth.basic_password_env and not auth.basic_user:
        raise ConfigError("web.auth.basic_user: required with web.auth.basic_password_env")
    au.finish()
    web = WebConfig(
        listen=w.get("listen", None, listen_address),
        public_url=w.get("public_url", None, _http_url),
        auth=auth,
        log_page_lines=w.get("log_page_lines", WebConfig().log_page_lines, _positive_int),
    )
    w.finish()
    data_dir = root.get("data_dir", DEFAULT_DATA_DIR, _path)
    root.finish()
    return Config(
        ccci=ccci,
        links=links,
        evidence=evidence,
        knowledge=knowledge,
        matrix=matrix,
        access=access,
        runner=runner,
        docker=docker,
        reports=reports,
        web=web,
        data_dir=data_dir,
        source=source,
    )


def load_config(path: Path | None) -> Config:
    """Load and validate ``path``; with no file, the defaults apply."""
    if path is None:
        return Config()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    try:
        return parse_config(data, source=path)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
