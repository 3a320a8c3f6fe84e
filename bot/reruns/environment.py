"""The rerun runner's environment: built from nothing, never inherited whole from the bot.

The runner executes recipes' code, and the bot's environment holds its secrets (the Matrix token and
password, the webhook secret, the pages' credentials). So a step sees only what ``runner.env`` sets
and the few variables of :data:`ALLOWED_ENV` that the bot itself has (what programs need to find
commands, speak the locale and keep time and temporary files). No variable that a ``*_env`` key of
the config names reaches it, even when ``runner.env`` or the allowlist lists it.

Anything else a runner needs goes into ``runner.env`` (or, on the cc-ci host, into the unit that
``systemd-run`` starts: ``--setenv``, ``--property=EnvironmentFile=``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from bot.config import Config

ALLOWED_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")


def runner_environment(
    config: Config, values: Mapping[str, str], environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The steps' environment: the allowlist from ``environ`` (the bot's), then ``runner.env`` filled in."""
    inherited = os.environ if environ is None else environ
    env = {name: inherited[name] for name in ALLOWED_ENV if name in inherited}
    env.update((name, template.format(**values)) for name, template in config.runner.env)
    never = config.named_variables
    return {name: value for name, value in env.items() if name not in never}
