"""The whole configuration (:class:`Config`: the sections of :mod:`bot.config.sections` and
:mod:`bot.config.web_sections`, and ``data_dir``), its rules across sections and against the machine,
and reading it: YAML (:mod:`bot.config.file`) into the typed, frozen objects
(:func:`bot.config.values.convert`), every error naming its key path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import msgspec
from msgspec.structs import replace

from bot.config.sections import (
    AccessConfig,
    CcciConfig,
    DockerConfig,
    EvidenceConfig,
    KnowledgeConfig,
    LinksConfig,
    LoggingConfig,
    MatrixConfig,
    ProbesConfig,
    ReportsConfig,
    RunnerConfig,
    Section,
    doc,
)
from bot.config.values import ConfigError, convert
from bot.config.web_sections import WebConfig

DEFAULT_DATA_DIR = Path("/var/lib/ccci-bot")


class Config(Section, frozen=True):
    """The whole configuration of one bot: a section's docstring is its description in the generated docs."""

    ccci: CcciConfig = CcciConfig()
    matrix: MatrixConfig = MatrixConfig()
    access: AccessConfig = AccessConfig()
    runner: RunnerConfig = RunnerConfig()
    docker: DockerConfig = DockerConfig()
    knowledge: KnowledgeConfig = KnowledgeConfig()
    links: LinksConfig = LinksConfig()
    evidence: EvidenceConfig = EvidenceConfig()
    reports: ReportsConfig = ReportsConfig()
    probes: ProbesConfig = ProbesConfig()
    web: WebConfig = WebConfig()
    logging: LoggingConfig = LoggingConfig()
    data_dir: Annotated[
        Path,
        doc(
            "The bot's own state (SQLite history, `ccci-bot.sqlite3`, its pre-migration backups in `backups/`, the "
            "Matrix session); must be writable by the bot."
        ),
    ] = DEFAULT_DATA_DIR

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

        def walk(obj: Section, path: str) -> None:
            for key in obj.__struct_fields__:
                value = getattr(obj, key)
                if isinstance(value, Section):
                    walk(value, f"{path}{key}.")
                elif key.endswith("_env") and value:
                    for name in value if isinstance(value, tuple) else (value,):
                        found.setdefault(name, f"{path}{key}")

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


def _nulls_as_defaults(data: Any, defaults: msgspec.Struct) -> Any:
    """A key with nothing after it is null in YAML, and means its default (as a section whose keys are all
    commented out does), except where null is a value of its own (``NULLABLE``)."""
    if not isinstance(data, dict):
        return data
    keep: tuple[str, ...] = getattr(defaults, "NULLABLE", ())
    found = {}
    for key, value in data.items():
        default = getattr(defaults, key) if key in defaults.__struct_fields__ else None
        if value is not None or key in keep:
            found[key] = _nulls_as_defaults(value, default) if isinstance(default, msgspec.Struct) else value
    return found


def parse_config(data: Any) -> Config:
    """Validate a loaded YAML document into a :class:`Config`."""
    config: Config = convert(_nulls_as_defaults(data, Config()), Config, "")
    config.web.auth.check()
    return config


def load_config(path: Path | None) -> Config:
    """Load and validate ``path``; with no file, the defaults apply."""
    if path is None:
        return Config()
    from bot.config.file import read_yaml  # here: without a file there is no YAML to read, nor PyYAML to import

    data = read_yaml(path)
    try:
        return parse_config(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
