"""What abra deploys from a sample recipe checkout: the files its COMPOSE_FILE names, merged, env filled in.

The sample world's own, deliberately simple view of abra (the harness, the docker-mode stack and the
suites' simulated stack read it); it is not the bot's reader (:mod:`bot.artifacts.compose`), so the
bot's tests against the sample world check that reader against something written independently.
Enough for the recipes the sample writes: ``KEY=value`` lines with ``$COMPOSE_FILE`` built up, services
merged key by key (label and environment lists turned into mappings first, other lists appended),
``${VAR}`` and ``${VAR:-default}`` filled in from the env.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_VAR = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


def env_values(text: str) -> dict[str, str]:
    """An env file's ``KEY=value`` lines (quotes dropped, ``$COMPOSE_FILE`` expanded from the lines above)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if "=" not in line or line.startswith("#"):
            continue
        key, value = line.removeprefix("export ").split("=", 1)
        values[key.strip()] = value.strip().strip("\"'").replace("$COMPOSE_FILE", values.get("COMPOSE_FILE", ""))
    return values


def _fill(value: Any, env: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return _VAR.sub(lambda m: env.get(m.group(1), m.group(2) if m.group(2) is not None else m.group(0)), value)
    if isinstance(value, dict):
        return {k: _fill(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, env) for v in value]
    return value


def _mapping(raw: Any) -> Any:
    if isinstance(raw, list):
        return {key: value for key, _, value in (str(item).partition("=") for item in raw)}
    return raw


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        return {**base, **{k: _merge(base[k], v) if k in base else v for k, v in over.items()}}
    if isinstance(base, list) and isinstance(over, list):
        return base + [v for v in over if v not in base]
    return over


def merged(read: Callable[[str], str | None]) -> tuple[dict[str, Any], str, dict[str, str]]:
    """(the compose abra deploys, the text of its files, the env) from a way to read a recipe file."""
    env = env_values(read(".env.sample") or "")
    files = [f for f in env.get("COMPOSE_FILE", "compose.yml").split(":") if f]
    services: dict[str, Any] = {}
    texts: list[str] = []
    for name in files:
        text = read(name)
        if text is None:
            raise FileNotFoundError(f"{name}, named in COMPOSE_FILE, is not in the recipe")
        texts.append(text)
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader
        for service, body in (data.get("services") or {}).items():
            body = _fill(dict(body or {}), env)
            if "environment" in body:
                body["environment"] = _mapping(body["environment"])
            if "labels" in body.get("deploy", {}):
                body["deploy"] = {**body["deploy"], "labels": _mapping(body["deploy"]["labels"])}
            services[service] = _merge(services.get(service, {}), body)
    return {"services": services}, "\n".join(texts), env


def merged_in(recipe_dir: Path) -> tuple[dict[str, Any], str, dict[str, str]]:
    """:func:`merged` of a checkout on disk."""

    def read(name: str) -> str | None:
        path = recipe_dir / name
        return path.read_text(encoding="utf-8") if path.is_file() else None

    return merged(read)
