"""Configuration: the YAML file read safely (:mod:`bot.config.file`) into the typed, frozen sections
declared in :mod:`bot.config.sections` and :mod:`bot.config.web_sections` (kinds of value and the error
formatter: :mod:`bot.config.values`), the whole of it and its loaders in :mod:`bot.config.schema`.

Callers import the config's types, loaders and error from here; the declarations' helpers (``Section``,
``doc``) stay in :mod:`bot.config.sections`, for the generator (``scripts/configdoc.py``) and the tests.
"""

from bot.config.schema import Config, load_config, parse_config, secret_from_env
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
)
from bot.config.values import ConfigError, listen_address
from bot.config.web_sections import WebAuthConfig, WebConfig

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
    "ProbesConfig",
    "ReportsConfig",
    "RunnerConfig",
    "WebAuthConfig",
    "WebConfig",
    "listen_address",
    "load_config",
    "parse_config",
    "secret_from_env",
]
