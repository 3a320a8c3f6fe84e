"""Configuration: the YAML file read safely (:mod:`bot.config.file`), each value checked
(:mod:`bot.config.values`) into the typed, frozen sections declared in :mod:`bot.config.schema`.

Callers import the config's types, loaders and error from here; the declaration machinery
(``setting``, ``section``, ``declared``) stays in :mod:`bot.config.schema`, for the generator
(``scripts/configdoc.py``) and the tests.
"""

from bot.config.schema import (
    AccessConfig,
    CcciConfig,
    Config,
    DockerConfig,
    EvidenceConfig,
    KnowledgeConfig,
    LinksConfig,
    LoggingConfig,
    MatrixConfig,
    ReportsConfig,
    RunnerConfig,
    WebAuthConfig,
    WebConfig,
    load_config,
    parse_config,
    secret_from_env,
)
from bot.config.values import ConfigError, listen_address

__all__ = [
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
