"""Configuration: YAML validated at load into typed, frozen objects, each key declared once.

A key is a dataclass field made with :func:`setting`: its default, the check that turns the YAML value
into the typed one (:mod:`bot.config.values`) and its description live together, and everything else
is derived from them: the generic loader below, the README table and ``config.example.yaml``
(``scripts/configdoc.py``). Every error names the key path and what was expected. Secrets are never
written in the file: a key ending in ``_env`` names the environment variable that holds them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from bot.config import values as v
from bot.config.values import ConfigError, listen_address
from bot.logsetup import LogFormat

__all__ = [
    "DEFAULT_ACTIVE_DIR",
    "DEFAULT_DATA_DIR",
    "DEFAULT_RUNS_DIR",
    "DEFAULT_WARM_DIR",
    "AccessConfig",
    "CcciConfig",
    "Config",
    "ConfigError",
    "DockerConfig",
    "EvidenceConfig",
    "KnowledgeConfig",
    "LinksConfig",
    "LoggingConfig",
    "MatrixConfig",
    "ReportsConfig",
    "RunnerConfig",
    "WebAuthConfig",
    "WebConfig",
    "listen_address",
    "load_config",
    "parse_config",
    "secret_from_env",
]

T = TypeVar("T")

DEFAULT_RUNS_DIR = Path("/var/lib/cc-ci-runs")
DEFAULT_WARM_DIR = Path("/var/lib/ci-warm")
DEFAULT_ACTIVE_DIR = Path("/run/cc-ci-active")
DEFAULT_DATA_DIR = Path("/var/lib/ccci-bot")

# Keys whose value would be a secret: refused in the file, the operator names an env var instead.
_SECRET_WORDS = ("password", "token", "secret")


@dataclass(frozen=True)
class Setting:
    """One key's declaration (kept in its dataclass field's metadata)."""

    convert: Callable[[Any, str], Any]  # raw YAML value and key path -> typed value, or ConfigError
    doc: str  # what it means: the README table's cell and the example file's comment
    example: Any = None  # shown in config.example.yaml instead of the default (which is then stated)
    default_doc: str | None = None  # how the default reads when its value alone would not say it
    null_is_none: bool = False  # an explicit ``null`` means None (not the default)
    to_yaml: Callable[[Any], Any] | None = None  # the typed default back as plain YAML data


@dataclass(frozen=True)
class Section:
    """A nested mapping of keys (its dataclass), with what it is for."""

    cls: type[Any]
    doc: str


_META = "ccci-config"


def setting(
    default: T,
    convert: Callable[[Any, str], Any],
    doc: str,
    *,
    example: Any = None,
    default_doc: str | None = None,
    null_is_none: bool = False,
    to_yaml: Callable[[Any], Any] | None = None,
) -> T:
    """Declare a key: a dataclass field whose metadata says how to read and describe it."""
    spec = Setting(convert, doc, example, default_doc, null_is_none, to_yaml)
    made: T = field(default=default, metadata={_META: spec})
    return made


def section(cls: type[T], doc: str) -> T:
    """Declare a nested section."""
    made: T = field(default_factory=cls, metadata={_META: Section(cls, doc)})
    return made


def declared(cls: type[Any]) -> Iterator[tuple[Field[Any], Setting | Section]]:
    """A section's declared keys in order (fields without a declaration, like ``source``, are not keys)."""
    for f in fields(cls):
        spec = f.metadata.get(_META)
        if spec is not None:
            yield f, spec


def default_of(f: Field[Any]) -> Any:
    return f.default_factory() if f.default is MISSING and f.default_factory is not MISSING else f.default


# --- the keys ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CcciConfig:
    """Where cc-ci writes its artifacts and what it names them."""

    RENAMED: ClassVar[Mapping[str, str]] = {"scan_interval_s": "reports.poll_s (how often the runs dir is scanned)"}

    runs_dir: Path = setting(
        DEFAULT_RUNS_DIR,
        v.path,
        "Where cc-ci writes one directory per run (`results.json`, `junit/`, the log, `abra/`).",
    )
    warm_dir: Path = setting(
        DEFAULT_WARM_DIR, v.path, "cc-ci's warm state; `<warm_dir>/<recipe>/canonical.json` is read."
    )
    active_dir: Path = setting(
        DEFAULT_ACTIVE_DIR,
        v.path,
        "One entry per run in flight (`/run/cc-ci-active/<domain>`); a missing dir means nothing is in flight.",
    )
    log_name: str = setting("run.log", v.file_name, "The runner's log inside a run dir.")
    results_name: str = setting("results.json", v.file_name, "The results file inside a run dir.")
    junit_dir: str = setting("junit", v.file_name, "The JUnit directory inside a run dir.")
    canonical_name: str = setting("canonical.json", v.file_name, "The file read inside `<warm_dir>/<recipe>/`.")
    settle_s: float = setting(
        120.0,
        v.seconds,
        "A run dir without `results.json` whose files changed less than this many seconds ago is still being "
        "written: it is skipped and read on a later scan. Older ones are derived from their JUnit files.",
    )
    sweep_gap_s: float = setting(
        900.0,
        v.seconds,
        "Sweep runs that start within this many seconds of the previous one's end belong to the same sweep.",
    )
    recipes_dir: Path | None = setting(
        None,
        v.path,
        "Recipe clones (`<recipes_dir>/<recipe>`, git repos with release tags) for the stale-test search, used "
        "when a run dir has no `abra/recipes/<recipe>` clone.",
        example="/var/lib/cc-ci/abra/recipes",
    )
    max_results_bytes: int = setting(
        16 * 1024 * 1024,
        v.positive_int,
        "A bigger `results.json` is not read (run dirs are written by recipes' code): a note on the run, and its "
        "status comes from JUnit.",
    )
    max_results_depth: int = setting(
        64, v.positive_int, "A `results.json` nested deeper than this is not used either (same note)."
    )


@dataclass(frozen=True)
class MatrixConfig:
    """The homeserver account the bot uses and the rooms it lives in. Secrets come from the environment."""

    homeserver: str | None = setting(
        None, v.http_url, "The homeserver's URL. Required for `ccci-bot run`.", example="https://matrix.example.org"
    )
    user_id: str | None = setting(
        None, v.user_id, "The bot's account. Required for `ccci-bot run`.", example="@ccci-bot:example.org"
    )
    access_token_env: str | None = setting(
        None,
        v.env_name,
        "The environment variable holding the bot's access token. A token wins over a password.",
        example="CCCI_MATRIX_TOKEN",
    )
    password_env: str | None = setting(
        None,
        v.env_name,
        "The environment variable holding the bot's password: used once, then the device id and token are "
        "kept in `data_dir` (no new device per restart).",
        example="CCCI_MATRIX_PASSWORD",
    )
    device_name: str = setting("ccci-bot", v.text, "The display name of the bot's device.")
    rooms: tuple[str, ...] = setting(
        (),
        v.rooms,
        "Rooms the bot joins and answers in (ids or aliases); invites to other rooms are ignored. Required for "
        "`ccci-bot run`.",
        example=["#cc-ci-ops:example.org"],
    )
    command_prefix: str = setting("!ccci", v.prefix, "What a command starts with.")
    sync_timeout_s: float = setting(30.0, v.seconds, "The long-poll timeout of `/sync`.")
    backoff_min_s: float = setting(
        1.0, v.seconds, "The first wait after a failed sync or send; it doubles (with jitter) up to `backoff_max_s`."
    )
    backoff_max_s: float = setting(60.0, v.seconds, "The longest wait between retries while the homeserver is down.")
    e2ee: bool = setting(
        True,
        v.boolean,
        "Read and answer in end-to-end encrypted rooms (nio's crypto store lives in `data_dir`); false: "
        "encrypted rooms are told once that commands there are unseen.",
    )
    recovery_key_env: str | None = setting(
        None,
        v.env_name,
        "The environment variable holding the account's recovery key, for cross-signing keys made elsewhere "
        "(Element): the bot reads its self-signing key from secret storage with it.",
        example="CCCI_MATRIX_RECOVERY_KEY",
    )
    undecryptable_notice_s: float = setting(
        120.0,
        v.seconds,
        'An encrypted message whose room key has not arrived after this long gets a "could not read it" reply.',
    )

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

    operators: tuple[str, ...] = setting(
        (),
        v.user_ids,
        "Users who may run commands that act (ingest, reclassify, rerun, cancel); everyone in the rooms may ask "
        "(help, why, summary, history, status).",
        example=["@alice:example.org"],
    )
    min_power_level: int = setting(
        50, v.integer, "Users with at least this power level in the room may also run commands that act."
    )
    max_in_flight: int = setting(
        3,
        v.positive_int,
        "Flood control: commands one user may have running at once. One more gets a polite refusal (once, "
        "until one of theirs is answered) and is not run.",
    )


DEFAULT_STEPS: tuple[tuple[str, ...], ...] = (
    ("abra", "recipe", "checkout", "{recipe}", "{version}"),
    ("cc-ci-run", "runner/run_recipe_ci.py"),
)


@dataclass(frozen=True)
class RunnerConfig:
    """How an isolation rerun is started: argv templates (never a shell string), as cc-ci does it."""

    steps: tuple[tuple[str, ...], ...] = setting(
        DEFAULT_STEPS,
        v.argv_list,
        "How an isolation rerun runs: argv lists run in order (never a shell string), with the placeholders "
        "`{recipe}`, `{version}` and `{run_id}`. The default is cc-ci's own invocation. On the cc-ci host the "
        "documented default runs each step as a transient unit with cc-ci's privileges: `[systemd-run, --quiet, "
        "--wait, --pipe, --collect, --unit=ccci-rerun-{run_id}-run, --property=RuntimeMaxSec=3600, …, --, cc-ci-run, "
        "runner/run_recipe_ci.py]` (deploy/config.yaml; README: Install on the cc-ci host).",
        default_doc="cc-ci's `abra recipe checkout {recipe} {version}` then `cc-ci-run runner/run_recipe_ci.py`",
    )
    env: tuple[tuple[str, str], ...] = setting(
        (("RECIPE", "{recipe}"), ("CCCI_SKIP_FETCH", "1")),
        v.env_map,
        "Environment variables added for the steps (same placeholders).",
        to_yaml=dict,
    )
    cwd: Path | None = setting(
        None,
        v.path,
        "The steps' working directory (cc-ci's checkout).",
        default_doc="the bot's own",
        example="/srv/cc-ci",
    )
    timeout_s: float = setting(
        3600.0, v.seconds, "The whole process group is killed after this long (cc-ci's own 60-minute deadline)."
    )
    max_times: int = setting(5, v.positive_int, "`!ccci rerun RECIPE xN` allows N up to this.")
    queue_max: int = setting(10, v.positive_int, "Reruns waiting at most; more are refused with a reply.")
    busy_wait_s: float = setting(1800.0, v.seconds, "How long a rerun waits for a busy CI node to become idle.")
    busy_poll_s: float = setting(15.0, v.seconds, "How often a waiting rerun looks again.")
    version_pattern: str = setting(
        r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$", v.regex, "What a version argument must look like (a regular expression)."
    )
    log_max_bytes: int = setting(
        8 * 1024 * 1024,
        v.positive_int,
        "Each rerun's log (`data_dir/reruns/<run id>.log`: the steps' output) keeps at most this much: its first "
        "and its last half, with a line saying how many bytes were cut between them.",
    )
    logs_kept: int = setting(
        50, v.positive_int, "Rerun logs kept in `data_dir/reruns/`; the oldest are deleted before each new rerun."
    )
    unit_stop: tuple[str, ...] = setting(
        ("systemctl", "stop", "--"),
        v.argv,
        "When a step runs through `systemd-run --unit=NAME`, cancelling it (or its deadline) also runs this argv "
        "with NAME appended: killing systemd-run alone leaves the unit running. `[]`: never.",
    )


@dataclass(frozen=True)
class DockerConfig:
    """The CI node's Docker engine, for the idle check before a rerun and the teardown check after."""

    base_url: str | None = setting(
        "unix:///var/run/docker.sock",
        v.docker_url,
        "The CI node's Docker engine. `null` skips the Docker checks (only `ccci.active_dir` is looked at).",
        null_is_none=True,
    )
    allowed_stacks: tuple[str, ...] = setting(
        ("traefik", "backupbot"),
        v.name_list,
        "Before a rerun no stack may be deployed but these; after it nothing of a stack outside them may be left.",
    )


@dataclass(frozen=True)
class KnowledgeConfig:
    """Operators' own signature directories, added to the shipped knowledge base."""

    dirs: tuple[Path, ...] = setting(
        (),
        v.path_list,
        "Directories of your own failure signatures (`*.yaml`, [format](docs/knowledge-base.md)), added to the "
        "shipped ones; a signature with the same id replaces the shipped one. A bad file or signature is "
        "reported and skipped.",
        example=["/etc/ccci-bot/signatures"],
    )


@dataclass(frozen=True)
class LinksConfig:
    """How evidence links are built; ``None`` means no links."""

    base_url: str | None = setting(
        None,
        v.url_template,
        "Where a run's files are served: `{run_id}` and `{path}` are filled in, `#L<line>` is appended for log "
        "lines. The example is cc-ci's dashboard, which serves `/runs/<run_id>/`.",
        default_doc="the bot's pages if `web.public_url` is set, else none",
        example="https://cc-ci.example.org/runs/{run_id}/{path}",
    )


@dataclass(frozen=True)
class EvidenceConfig:
    """How much of a log is quoted around a failure."""

    context_lines: int = setting(
        3, v.positive_int, "Lines of log quoted before and after a line that names a failing test."
    )
    max_log_hits: int = setting(4, v.positive_int, "At most this many log lines per failing test.")
    max_excerpt_chars: int = setting(1500, v.positive_int, "Excerpts are cut at this many characters.")
    max_failure_chars: int = setting(
        20_000, v.positive_int, "Failure text (message and details) kept per testcase; the rest is dropped at ingest."
    )
    mask_env: tuple[str, ...] = setting(
        (),
        v.env_names,
        "Environment variables whose values are masked (••••••) in chat and on the pages; the bot's own secret "
        "variables (matrix, webhook, web.auth) always are.",
        example=["ABRA_SECRET_TOKEN"],
    )


@dataclass(frozen=True)
class ReportsConfig:
    """Sweep summaries and the scheduled red report: where, when, and how eagerly to settle verdicts."""

    rooms: tuple[str, ...] = setting(
        (),
        v.rooms,
        "Rooms that get sweep summaries and the red report (ids or aliases; the bot joins them).",
        default_doc="the `matrix.rooms`",
        example=["#cc-ci-ops:example.org"],
    )
    poll_s: float = setting(
        60.0, v.positive_seconds, "How often `runs_dir` is scanned for new or changed runs; a webhook wakes it sooner."
    )
    quiet_s: float = setting(
        600.0,
        v.seconds,
        "A sweep is finished when `active_dir` is empty and none of its runs started or finished for this long.",
    )
    cron: str = setting(
        "0 7 * * *",
        v.cron,
        "The red report's schedule: a crontab line (min hour day month weekday; 0 or 7 = Sunday) in `timezone`. "
        "An optional sixth, leading field gives seconds.",
    )
    timezone: str = setting("UTC", v.timezone, "The time zone of `cron` (IANA, e.g. Europe/Berlin).")
    misfire_grace_s: float = setting(
        43200.0,
        v.positive_seconds,
        "A report slot missed while the bot was down is sent once on start, marked late, unless it is older "
        "than this; then it is skipped and the next slot comes.",
    )
    auto_rerun: bool = setting(
        True,
        v.boolean,
        "After a sweep, rerun newly red recipes in isolation when their verdict is less sure than "
        "`settled_confidence`; the summary is updated as their verdicts settle.",
    )
    auto_rerun_max: int = setting(5, v.positive_int, "At most this many automatic reruns per sweep.")
    settled_confidence: float = setting(0.8, v.fraction, "A verdict at least this sure needs no automatic rerun.")
    thread_over: int = setting(
        5,
        v.int_at_least_0,
        "More red recipes than this: the summary is a short headline with the details in its thread.",
    )
    flip_window: int = setting(
        10, v.positive_int, 'How many sweeps back red/green flips are counted ("3 flips in the last 10 sweeps").'
    )
    webhook_secret_env: str | None = setting(
        None,
        v.env_name,
        "Enables `POST /hooks/run-finished` on `web.listen`: the body signed with HMAC-SHA256 under this secret, "
        'sent as "X-Ccci-Signature: sha256=<hex>". Unsigned or badly signed requests are refused.',
        example="CCCI_WEBHOOK_SECRET",
    )

    def report_rooms(self, matrix_rooms: tuple[str, ...]) -> tuple[str, ...]:
        return self.rooms or matrix_rooms


@dataclass(frozen=True)
class WebAuthConfig:
    """Optional access control for the pages: a bearer token, or basic auth (secrets from the environment)."""

    bearer_token_env: str | None = setting(
        None,
        v.env_name,
        "The environment variable holding the bearer token the pages accept.",
        example="CCCI_WEB_TOKEN",
    )
    basic_user: str | None = setting(
        None, v.text, "The basic-auth user name (required with `basic_password_env`).", example="ops"
    )
    basic_password_env: str | None = setting(
        None, v.env_name, "The environment variable holding the basic-auth password.", example="CCCI_WEB_PASSWORD"
    )

    @property
    def enabled(self) -> bool:
        return bool(self.bearer_token_env or self.basic_password_env)

    def check(self) -> None:
        """Rules across keys, applied when the file is read."""
        if self.basic_password_env and not self.basic_user:
            raise ConfigError("web.auth.basic_user: required with web.auth.basic_password_env")


@dataclass(frozen=True)
class WebConfig:
    """The bot's HTTP server (webhook, evidence pages); ``listen`` None means no server."""

    listen: str | None = setting(
        None,
        listen_address,
        "The bot's HTTP server (evidence pages, `/api`, `/healthz`, `/metrics`, the webhook) listens here; none "
        "means no server. `ccci-bot web` serves the pages alone.",
        example="127.0.0.1:8080",
    )
    public_url: str | None = setting(
        None,
        v.http_url,
        "How operators reach the server; when `links.base_url` is not set, every link in chat points at these pages.",
        example="https://ccci-bot.example.org",
    )
    auth: WebAuthConfig = section(
        WebAuthConfig,
        "Optional access control (secrets from the environment): a bearer token, and/or basic auth. `/healthz` "
        "and the webhook are exempt. Default: none (open; listen on 127.0.0.1 or behind a proxy).",
    )
    log_page_lines: int = setting(500, v.positive_int, "Lines per log page.")
    request_timeout_s: float = setting(
        30.0,
        v.positive_seconds,
        "A page's file work (counting a log's lines) stops after this many seconds (503), or as soon as the "
        "client has gone; the counting done is kept for the next request.",
    )
    client_timeout_s: float = setting(
        10.0,
        v.positive_seconds,
        "A client must send a request's headers within this many seconds of connecting (or of its previous "
        "response), and the webhook its body within as many again; a slower connection is closed.",
    )
    max_connections: int = setting(
        256,
        v.positive_int,
        "Open connections to the HTTP server at most (fewer when the open-files limit leaves less room). One more "
        "closes the connection idle longest (out of a request for a tenth of `client_timeout_s` at least), or, "
        "when there is none, gets a 503 at once.",
    )


@dataclass(frozen=True)
class LoggingConfig:
    """How `run` and `web` log: the level, and text (journald-aware) or one JSON object a line."""

    level: str = setting(
        "info",
        v.log_level,
        "For `ccci-bot run` and `ccci-bot web`: debug, info, warning, error or critical. One-shot commands log "
        "warnings only, unless `-v`.",
    )
    format: LogFormat = setting(
        LogFormat.TEXT,
        v.log_format,
        "`text`: one line each; under systemd (`JOURNAL_STREAM` set) without timestamps and with `<N>` syslog "
        "priority prefixes, so `journalctl -p` works. `json`: one object a line (`ts`, `level`, `logger`, "
        "`message`, `exc`) for log shippers.",
        to_yaml=str,
    )


@dataclass(frozen=True)
class Config:
    """The whole configuration of one bot."""

    ccci: CcciConfig = section(CcciConfig, "What cc-ci writes, and where.")
    matrix: MatrixConfig = section(MatrixConfig, "The homeserver, the bot's account and its rooms.")
    access: AccessConfig = section(AccessConfig, "Who may run commands that act.")
    runner: RunnerConfig = section(RunnerConfig, "Isolation reruns on the CI node.")
    docker: DockerConfig = section(DockerConfig, "The CI node's Docker engine: idle before a rerun, clean after.")
    knowledge: KnowledgeConfig = section(KnowledgeConfig, "Your own failure signatures.")
    links: LinksConfig = section(LinksConfig, "Evidence links in chat.")
    evidence: EvidenceConfig = section(EvidenceConfig, "How much of a log is quoted.")
    reports: ReportsConfig = section(ReportsConfig, "Sweep summaries, the red report and automatic reruns.")
    web: WebConfig = section(WebConfig, "The bot's HTTP server.")
    logging: LoggingConfig = section(LoggingConfig, "How the long-running commands log.")
    data_dir: Path = setting(
        DEFAULT_DATA_DIR,
        v.path,
        "The bot's own state (SQLite history, `ccci-bot.sqlite3`, its pre-migration backups in `backups/`, the "
        "Matrix session); must be writable by the bot.",
    )
    source: Path | None = None  # the file this was read from (not a key)

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
        # The recovery key is masked too, but optional: needed once, until the self-signing key is in data_dir.
        optional = [self.matrix.recovery_key_env] if self.matrix.recovery_key_env else []
        return tuple(dict.fromkeys([*self._secret_keys().values(), *optional, *self.evidence.mask_env]))

    @property
    def named_variables(self) -> dict[str, str]:
        """Every environment variable an ``*_env`` key names, by key path: secrets and masked values alike.

        Found by walking the keys rather than listing them, so a key added later is covered too: none
        of these is ever handed to the rerun runner (:mod:`bot.reruns.environment`).
        """
        found: dict[str, str] = {}

        def walk(obj: Any, path: str) -> None:
            for f, spec in declared(type(obj)):
                value = getattr(obj, f.name)
                if isinstance(spec, Section):
                    walk(value, f"{path}{f.name}.")
                elif f.name.endswith("_env") and value:
                    for name in value if isinstance(value, tuple) else (value,):
                        found.setdefault(name, f"{path}{f.name}")

        walk(self, "")
        return found

    def _secret_keys(self) -> dict[str, str]:
        """The configured secret variables by key path."""
        names = {
            "matrix.access_token_env": self.matrix.access_token_env,
            "matrix.password_env": self.matrix.password_env,
            "reports.webhook_secret_env": self.reports.webhook_secret_env,
            "web.auth.bearer_token_env": self.web.auth.bearer_token_env,
            "web.auth.basic_password_env": self.web.auth.basic_password_env,
        }
        return {key: name for key, name in names.items() if name}

    def secret_problems(self, environ: Mapping[str, str] | None = None) -> list[str]:
        """Each configured secret variable that is unset or empty: checked before the bot starts."""
        found = []
        for key, name in self._secret_keys().items():
            try:
                secret_from_env(name, key, environ)
            except ConfigError as exc:
                found.append(str(exc))
        return found

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
        named = self.named_variables
        for name, _ in self.runner.env:
            if name in named:
                found.append(f"runner.env: {name} is named by {named[name]}; it is never passed to the runner")
        return found


def describe_path(path: Path) -> str:
    if not path.exists():
        return f"{path} (does not exist)"
    if path.is_file():
        return f"{path} (a file)"
    return str(path)


def secret_from_env(var_name: str | None, key: str, environ: Mapping[str, str] | None = None) -> str | None:
    """Read a secret from the environment variable a config key names; unset or empty is an error
    (an empty secret would let an empty credential in, e.g. an HMAC under an empty key)."""
    if not var_name:
        return None
    value = (os.environ if environ is None else environ).get(var_name)
    if value is None:
        raise ConfigError(f"{key}: environment variable {var_name} is not set")
    if not value:
        raise ConfigError(f"{key}: environment variable {var_name} is empty")
    return value


# --- the generic loader ------------------------------------------------------------------------


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _load_section(cls: type[T], data: Any, path: str) -> T:
    """Build one section from its mapping: refuse secrets, renamed and unknown keys, convert the rest."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path or 'the file'}: expected a mapping, got {v.kind(data)}")
    keys = dict(declared(cls))
    renamed: Mapping[str, str] = getattr(cls, "RENAMED", {})
    for name in data:
        key = _join(path, str(name))
        if any(word in str(name).lower() for word in _SECRET_WORDS) and not str(name).endswith("_env"):
            raise ConfigError(
                f"{key}: secrets are not read from the file; set {key}_env to the name of an "
                "environment variable that holds it"
            )
        if name in renamed:
            raise ConfigError(f"{key}: renamed to {renamed[name]}")
        if name not in {f.name for f in keys}:
            raise ConfigError(f"{key}: unknown key (allowed: {', '.join(sorted(f.name for f in keys))})")
    values: dict[str, Any] = {}
    for f, spec in keys.items():
        key = _join(path, f.name)
        raw = data.get(f.name)
        if isinstance(spec, Section):
            values[f.name] = _load_section(spec.cls, raw, key)
        elif raw is not None:
            values[f.name] = spec.convert(raw, key)
        elif f.name in data and spec.null_is_none:
            values[f.name] = None
    made = cls(**values)
    check: Callable[[], None] | None = getattr(made, "check", None)
    if check is not None:
        check()
    return made


def parse_config(data: Any, source: Path | None = None) -> Config:
    """Validate a loaded YAML document into a :class:`Config`."""
    return replace(_load_section(Config, data, ""), source=source)


def load_config(path: Path | None) -> Config:
    """Load and validate ``path``; with no file, the defaults apply."""
    if path is None:
        return Config()
    from bot.config.file import read_yaml  # here: without a file there is no YAML to read, nor PyYAML to import

    data = read_yaml(path)
    try:
        return parse_config(data, source=path)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
