"""The sections of the config file: one frozen msgspec ``Struct`` each, every key declared once.

A key's kind of value (:mod:`bot.config.values`), default and ``Meta`` description stand together (a section's
description is its docstring); the table in docs/configuration.md and ``config.example.yaml`` are generated from
them (``scripts/configdoc.py``). Unknown keys are errors. Secrets are never written in the file: a key ending in
``_env`` names the environment variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar

import msgspec
from msgspec import Meta

from bot.config import values as v
from bot.logsetup import LogFormat

DEFAULT_RUNS_DIR = Path("/var/lib/cc-ci-runs")
DEFAULT_WARM_DIR = Path("/var/lib/ci-warm")
DEFAULT_ACTIVE_DIR = Path("/run/cc-ci-active")
COOP_CLOUD_RECIPE = "https://git.coopcloud.tech/coop-cloud/{recipe}"


class Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A mapping of keys in the file, immutable once read (each subclass says ``frozen=True`` again for mypy)."""


def doc(text: str, *, example: Any = None, default: str | None = None) -> Meta:
    """A key's description, for the config table and ``config.example.yaml``: ``example`` is shown there
    instead of the default, and ``default`` says in words what a default value alone would not."""
    return Meta(description=text, examples=None if example is None else [example], extra={"default": default})


class CcciConfig(Section, frozen=True):
    """What cc-ci writes, and where."""

    RENAMED: ClassVar[Mapping[str, str]] = {"scan_interval_s": "reports.poll_s (how often the runs dir is scanned)"}

    runs_dir: Annotated[
        Path, doc("Where cc-ci writes one directory per run (`results.json`, `junit/`, the log, `abra/`).")
    ] = DEFAULT_RUNS_DIR
    warm_dir: Annotated[Path, doc("cc-ci's warm state; `<warm_dir>/<recipe>/canonical.json` is read.")] = (
        DEFAULT_WARM_DIR
    )
    active_dir: Annotated[
        Path,
        doc("One entry per run in flight (`/run/cc-ci-active/<domain>`); a missing dir means nothing is in flight."),
    ] = DEFAULT_ACTIVE_DIR
    log_name: Annotated[v.FileName, doc("The runner's log inside a run dir.")] = "run.log"
    results_name: Annotated[v.FileName, doc("The results file inside a run dir.")] = "results.json"
    junit_dir: Annotated[v.FileName, doc("The JUnit directory inside a run dir.")] = "junit"
    canonical_name: Annotated[v.FileName, doc("The file read inside `<warm_dir>/<recipe>/`.")] = "canonical.json"
    settle_s: Annotated[
        v.Seconds,
        doc(
            "A run dir without `results.json` whose files changed less than this many seconds ago is still being "
            "written: it is skipped and read on a later scan. Older ones are derived from their JUnit files."
        ),
    ] = 120.0
    sweep_gap_s: Annotated[
        v.Seconds,
        doc("Sweep runs that start within this many seconds of the previous one's end belong to the same sweep."),
    ] = 900.0
    recipes_dir: Annotated[
        Path | None,
        doc(
            "Recipe clones (`<recipes_dir>/<recipe>`, git repos with release tags) for the stale-test search, used "
            "when a run dir has no `abra/recipes/<recipe>` clone.",
            example="/var/lib/cc-ci/abra/recipes",
        ),
    ] = None
    max_results_bytes: Annotated[
        v.PositiveInt,
        doc(
            "A bigger `results.json` is not read (run dirs are written by recipes' code): a note on the run, and its "
            "status comes from JUnit."
        ),
    ] = 16 * 1024 * 1024
    max_results_depth: Annotated[
        v.PositiveInt, doc("A `results.json` nested deeper than this is not used either (same note).")
    ] = 64
    checkout: Annotated[
        Path | None,
        doc(
            "A git checkout of cc-ci (often `runner.cwd`): for a failing overlay test (`tests/<recipe>/<file>.py`) "
            "`why` reads the last commit that changed the file (`git log -1`, no hooks or helpers run). None: not "
            "read.",
            example="/srv/cc-ci",
        ),
    ] = None


class MatrixConfig(Section, frozen=True):
    """The homeserver, the bot's account and its rooms."""

    homeserver: Annotated[
        v.HttpUrl | None,
        doc("The homeserver's URL. Required for `ccci-bot run`.", example="https://matrix.example.org"),
    ] = None
    user_id: Annotated[
        v.UserId | None, doc("The bot's account. Required for `ccci-bot run`.", example="@ccci-bot:example.org")
    ] = None
    access_token_env: Annotated[
        v.EnvName | None,
        doc(
            "The environment variable holding the bot's access token. A token wins over a password.",
            example="CCCI_MATRIX_TOKEN",
        ),
    ] = None
    password_env: Annotated[
        v.EnvName | None,
        doc(
            "The environment variable holding the bot's password: used to log in once (then the device id and "
            "token are kept in `data_dir`: no new device per restart) and, on an account without cross-signing "
            "keys, to upload the ones the bot makes.",
            example="CCCI_MATRIX_PASSWORD",
        ),
    ] = None
    device_name: Annotated[v.Text, doc("The display name of the bot's device.")] = "ccci-bot"
    rooms: Annotated[
        v.Rooms,
        doc(
            "Rooms the bot joins and answers in (ids or aliases); invites to other rooms are ignored. Required for "
            "`ccci-bot run`.",
            example=["#cc-ci-ops:example.org"],
        ),
    ] = ()
    command_prefix: Annotated[v.Prefix, doc("What a command starts with.")] = "!ccci"
    sync_timeout_s: Annotated[v.Seconds, doc("The long-poll timeout of `/sync`.")] = 30.0
    backoff_min_s: Annotated[
        v.Seconds, doc("The first wait after a failed sync or send; it doubles (with jitter) up to `backoff_max_s`.")
    ] = 1.0
    backoff_max_s: Annotated[v.Seconds, doc("The longest wait between retries while the homeserver is down.")] = 60.0
    e2ee: Annotated[
        v.Flag,
        doc(
            "Read and answer in end-to-end encrypted rooms (nio's crypto store lives in `data_dir`); false: "
            "encrypted rooms are told once that commands there are unseen."
        ),
    ] = True
    recovery_key_env: Annotated[
        v.EnvName | None,
        doc(
            "The environment variable holding the account's recovery key, for cross-signing keys made elsewhere "
            "(Element): the bot reads its self-signing key from secret storage with it.",
            example="CCCI_MATRIX_RECOVERY_KEY",
        ),
    ] = None
    undecryptable_notice_s: Annotated[
        v.Seconds,
        doc('An encrypted message whose room key has not arrived after this long gets a "could not read it" reply.'),
    ] = 120.0

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


class AccessConfig(Section, frozen=True):
    """Who may run commands that act."""

    operators: Annotated[
        v.UserIds,
        doc(
            "Users who may run commands that act (ingest, reclassify, rerun, cancel); everyone in the rooms may ask "
            "(help, why, summary, history, status).",
            example=["@alice:example.org"],
        ),
    ] = ()
    min_power_level: Annotated[
        v.Integer, doc("Users with at least this power level in the room may also run commands that act.")
    ] = 50
    max_in_flight: Annotated[
        v.PositiveInt,
        doc(
            "Flood control: commands one user may have running at once. One more gets a polite refusal (once, "
            "until one of theirs is answered) and is not run."
        ),
    ] = 3


DEFAULT_STEPS = tuple(
    tuple(map(v.Template, argv))
    for argv in (("abra", "recipe", "checkout", "{recipe}", "{version}"), ("cc-ci-run", "runner/run_recipe_ci.py"))
)


class RunnerConfig(Section, frozen=True):
    """Isolation reruns on the CI node."""

    steps: Annotated[
        v.Steps,
        doc(
            "How an isolation rerun runs: argv lists run in order (never a shell string), with the placeholders "
            "`{recipe}`, `{version}` and `{run_id}`. The default is cc-ci's own invocation. On the cc-ci host the "
            "documented default runs each step as a transient unit with cc-ci's privileges: `[systemd-run, "
            "--quiet, --wait, --pipe, --collect, --unit=ccci-rerun-{run_id}-run, --property=RuntimeMaxSec=3600, …, --, "
            "cc-ci-run, runner/run_recipe_ci.py]` (deploy/config.yaml; docs/deployment.md).",
            default="cc-ci's `abra recipe checkout {recipe} {version}` then `cc-ci-run runner/run_recipe_ci.py`",
        ),
    ] = DEFAULT_STEPS
    env: Annotated[v.EnvMap, doc("Environment variables added for the steps (same placeholders).")] = v.EnvMap(
        (("RECIPE", "{recipe}"), ("CCCI_SKIP_FETCH", "1"))
    )
    cwd: Annotated[
        Path | None,
        doc("The steps' working directory (cc-ci's checkout).", default="the bot's own", example="/srv/cc-ci"),
    ] = None
    timeout_s: Annotated[
        v.Seconds, doc("The whole process group is killed after this long (cc-ci's own 60-minute deadline).")
    ] = 3600.0
    max_times: Annotated[v.PositiveInt, doc("`!ccci rerun RECIPE xN` allows N up to this.")] = 5
    queue_max: Annotated[v.PositiveInt, doc("Reruns waiting at most; more are refused with a reply.")] = 10
    busy_wait_s: Annotated[v.Seconds, doc("How long a rerun waits for a busy CI node to become idle.")] = 1800.0
    busy_poll_s: Annotated[v.Seconds, doc("How often a waiting rerun looks again.")] = 15.0
    version_pattern: Annotated[v.Regex, doc("What a version argument must look like (a regular expression).")] = (
        v.Regex(r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$")
    )
    log_max_bytes: Annotated[
        v.PositiveInt,
        doc(
            "Each rerun's log (`data_dir/reruns/<run id>.log`: the steps' output) keeps at most this much: its first "
            "and its last half, with a line saying how many bytes were cut between them."
        ),
    ] = 8 * 1024 * 1024
    logs_kept: Annotated[
        v.PositiveInt, doc("Rerun logs kept in `data_dir/reruns/`; the oldest are deleted before each new rerun.")
    ] = 50
    unit_stop: Annotated[
        v.Argv,
        doc(
            "When a step runs through `systemd-run --unit=NAME`, cancelling it (or its deadline) also runs this argv "
            "with NAME appended: killing systemd-run alone leaves the unit running. `[]`: never."
        ),
    ] = ("systemctl", "stop", "--")


class DockerConfig(Section, frozen=True):
    """The CI node's Docker engine: idle before a rerun, clean after."""

    NULLABLE: ClassVar[tuple[str, ...]] = ("base_url",)  # null here means "no Docker", not the default

    base_url: Annotated[
        v.DockerUrl | None,
        doc("The CI node's Docker engine. `null` skips the Docker checks (only `ccci.active_dir` is looked at)."),
    ] = "unix:///var/run/docker.sock"
    allowed_stacks: Annotated[
        v.Names,
        doc("Before a rerun no stack may be deployed but these; after it nothing of a stack outside them may be left."),
    ] = ("traefik", "backupbot")


class KnowledgeConfig(Section, frozen=True):
    """Your own failure signatures."""

    dirs: Annotated[
        v.Paths,
        doc(
            "Directories of your own failure signatures (`*.yaml`, [format](docs/knowledge-base.md)), added to the "
            "shipped ones; a signature with the same id replaces the shipped one. A bad file or signature is "
            "reported and skipped.",
            example=["/etc/ccci-bot/signatures"],
        ),
    ] = ()


class LinksConfig(Section, frozen=True):
    """Evidence links in chat."""

    NULLABLE: ClassVar[tuple[str, ...]] = ("recipe_url", "tag_url", "compare_url")  # null: no such link

    base_url: Annotated[
        v.UrlTemplate | None,
        doc(
            "Where a run's files are served: `{run_id}` and `{path}` are filled in, `#L<line>` is appended for log "
            "lines. The example is cc-ci's dashboard, which serves `/runs/<run_id>/`.",
            default="the bot's pages if `web.public_url` is set, else none",
            example="https://cc-ci.example.org/runs/{run_id}/{path}",
        ),
    ] = None
    recipe_url: Annotated[
        v.RecipeUrlTemplate | None,
        doc(
            "A recipe's repository (`{recipe}` is filled in), linked by `why`. `null`: no link. The default is "
            "where Co-op Cloud's recipes live."
        ),
    ] = v.RecipeUrlTemplate(COOP_CLOUD_RECIPE)
    tag_url: Annotated[
        v.RecipeTagUrlTemplate | None,
        doc(
            "A recipe's repository at the release tag a run tested (`{recipe}`, `{version}`), linked by `why`. "
            "`null`: no link. The default is Gitea's tree at a tag."
        ),
    ] = v.RecipeTagUrlTemplate(f"{COOP_CLOUD_RECIPE}/src/tag/{{version}}")
    compare_url: Annotated[
        v.CompareUrlTemplate | None,
        doc(
            "What changed in a recipe between two release tags (`{recipe}`, `{from}`, `{to}`): `why` links the "
            "last green version to the first red one of the current red streak. `null`: no link. The default is "
            "Gitea's compare view."
        ),
    ] = v.CompareUrlTemplate(f"{COOP_CLOUD_RECIPE}/compare/{{from}}...{{to}}")
    ccci_commit_url: Annotated[
        v.CommitUrlTemplate | None,
        doc(
            "A commit of cc-ci's repository (`{commit}`, the full hash; `{path}`, the file, is optional): for a "
            "failing overlay test, `why` links the last cc-ci commit that changed its file, read from "
            "`ccci.checkout`. None: the commit is in the JSON only.",
            example="https://git.coopcloud.tech/recipe-maintainers/cc-ci/commit/{commit}",
        ),
    ] = None


class EvidenceConfig(Section, frozen=True):
    """How much of a log is quoted."""

    context_lines: Annotated[
        v.PositiveInt, doc("Lines of log quoted before and after a line that names a failing test.")
    ] = 3
    max_log_hits: Annotated[v.PositiveInt, doc("At most this many log lines per failing test.")] = 4
    max_excerpt_chars: Annotated[v.PositiveInt, doc("Excerpts are cut at this many characters.")] = 1500
    max_failure_chars: Annotated[
        v.PositiveInt, doc("Failure text (message and details) kept per testcase; the rest is dropped at ingest.")
    ] = 20_000
    mask_env: Annotated[
        v.EnvNames,
        doc(
            "Environment variables whose values are masked (••••••) in chat and on the pages; the bot's own secret "
            "variables (matrix, webhook, web.auth) always are.",
            example=["ABRA_SECRET_TOKEN"],
        ),
    ] = ()


class ReportsConfig(Section, frozen=True):
    """Sweep summaries, the red report and automatic reruns."""

    rooms: Annotated[
        v.Rooms,
        doc(
            "Rooms that get sweep summaries and the red report (ids or aliases; the bot joins them).",
            default="the `matrix.rooms`",
            example=["#cc-ci-ops:example.org"],
        ),
    ] = ()
    poll_s: Annotated[
        v.PositiveSeconds, doc("How often `runs_dir` is scanned for new or changed runs; a webhook wakes it sooner.")
    ] = 60.0
    quiet_s: Annotated[
        v.Seconds,
        doc("A sweep is finished when `active_dir` is empty and none of its runs started or finished for this long."),
    ] = 600.0
    cron: Annotated[
        v.Cron,
        doc(
            "The red report's schedule: a crontab line (min hour day month weekday; 0 or 7 = Sunday) in `timezone`. "
            "An optional sixth, leading field gives seconds."
        ),
    ] = v.Cron("0 7 * * *")
    timezone: Annotated[v.TimeZone, doc("The time zone of `cron` (IANA, e.g. Europe/Berlin).")] = v.TimeZone("UTC")
    misfire_grace_s: Annotated[
        v.PositiveSeconds,
        doc(
            "A report slot missed while the bot was down is sent once on start, marked late, unless it is older "
            "than this; then it is skipped and the next slot comes."
        ),
    ] = 43200.0
    auto_rerun: Annotated[
        v.Flag,
        doc(
            "After a sweep, rerun newly red recipes in isolation when their verdict is less sure than "
            "`settled_confidence` (and a rerun would settle it), and red recipes with nothing about them "
            "tested (unverified, or infra by the run's own record), first or again, once the node checks healthy; "
            "the summary is updated as their verdicts settle."
        ),
    ] = True
    auto_rerun_max: Annotated[
        v.PositiveInt, doc("At most this many automatic reruns per sweep, all kinds together.")
    ] = 5
    settled_confidence: Annotated[v.Fraction, doc("A verdict at least this sure needs no automatic rerun.")] = 0.8
    thread_over: Annotated[
        v.Count, doc("More red recipes than this: the summary is a short headline with the details in its thread.")
    ] = 5
    flip_window: Annotated[
        v.PositiveInt, doc('How many sweeps back red/green flips are counted ("3 flips in the last 10 sweeps").')
    ] = 10
    webhook_secret_env: Annotated[
        v.EnvName | None,
        doc(
            "Enables `POST /hooks/run-finished` on `web.listen`: the body signed with HMAC-SHA256 under this secret, "
            'sent as "X-Ccci-Signature: sha256=<hex>". Unsigned or badly signed requests are refused.',
            example="CCCI_WEBHOOK_SECRET",
        ),
    ] = None

    def report_rooms(self, matrix_rooms: tuple[str, ...]) -> tuple[str, ...]:
        return self.rooms or matrix_rooms


class ProbesConfig(Section, frozen=True):
    """Quick read-only checks before hour-long reruns."""

    enabled: Annotated[
        v.Flag,
        doc(
            'Look up what a failure says is gone before deciding: an image tag that "manifest unknown" or '
            '"No such image" names is asked of its registry (`HEAD /v2/<name>/manifests/<tag>`, read-only, with '
            "the node's Docker credentials where the registry needs them). Absent settles an upstream defect without "
            'a rerun; present contradicts the "image gone" signature. This sends requests to the registries the '
            "failures name."
        ),
    ] = False
    timeout_s: Annotated[
        v.PositiveSeconds,
        doc("Each probe's whole look-up (token included) within this many seconds, or it counts as no answer."),
    ] = 5.0
    cache_s: Annotated[
        v.Seconds,
        doc(
            "An answer is reused for this many seconds, so a report of fifty reds naming one tag asks once; a "
            "registry that did not answer is not asked again (for any tag) until then either, and is logged once."
        ),
    ] = 300.0
    docker_config: Annotated[
        Path | None,
        doc(
            "The Docker client config whose `auths` (base64 `auth` entries, as `docker login` writes them) give "
            "the node's registry credentials. Credential helpers (`credsStore`, `credHelpers`) are not run.",
            default="`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json` of the bot's user",
            example="/root/.docker/config.json",
        ),
    ] = None
    insecure_registries: Annotated[
        v.RegistryHosts,
        doc(
            "Registries (host[:port]) asked over plain http, as Docker's `insecure-registries`; every other one over "
            "https. Credentials go over plain http only to these.",
            example=["127.0.0.1:5000"],
        ),
    ] = ()


class LoggingConfig(Section, frozen=True):
    """How the long-running commands log."""

    level: Annotated[
        v.LogLevel,
        doc(
            "For `ccci-bot run` and `ccci-bot web`: debug, info, warning, error or critical. One-shot commands log "
            "warnings only, unless `-v`."
        ),
    ] = v.LogLevel("info")
    format: Annotated[
        v.Format,
        doc(
            "`text`: one line each; under systemd (`JOURNAL_STREAM` set) without timestamps and with `<N>` syslog "
            "priority prefixes, so `journalctl -p` works. `json`: one object a line (`ts`, `level`, `logger`, "
            "`message`, `exc`) for log shippers."
        ),
    ] = LogFormat.TEXT
