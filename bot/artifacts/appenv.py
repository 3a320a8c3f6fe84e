"""Env files as compose and abra read them, and finding a run's app env: the variables an effective
compose (:mod:`bot.artifacts.compose`) is rendered with.

* **Which env** — the run's own app env (``abra/servers/<server>/<domain>.env`` inside the run dir, the one
  whose ``TYPE``/``RECIPE`` is the recipe), read through :mod:`bot.artifacts.safeopen` (confined to the
  run, regular files only, size-capped); failing that, the recipe's ``.env.sample`` at the ref; failing
  that, no env and ``compose.yml``.
* **Reading one** — as text, never through a shell: ``KEY=value``, ``KEY="value"``, ``KEY='value'``,
  ``export`` prefixes, comments, and ``$VAR``/``${VAR}`` expanded from earlier lines only (``$(…)`` and
  backticks stay text).
* **Substituting** — ``${VAR:-default}``, ``${VAR-default}``, ``${VAR}`` and ``$VAR`` are filled in
  (:func:`substitute`); every other form stays as written: nothing is evaluated.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.artifacts.safeopen import Unsafe, dir_in_run, read_bytes_in_run

MAX_ENV_BYTES = 64 << 10  # an app env is a copy of .env.sample with values filled in
MAX_ENV_CANDIDATES = 64  # env files looked at under a run's abra/servers

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ENV_LINE = re.compile(r"(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*)\Z", re.S)
_INLINE_COMMENT = re.compile(r"\s+#.*\Z", re.S)

# ---------------------------------------------------------------------------------------------
# Variables: env files and compose values, as text
# ---------------------------------------------------------------------------------------------


def _closing(text: str, start: int) -> int:
    """Index of the ``}`` closing a ``${`` whose body starts at ``start``; -1 if it is never closed."""
    depth, i = 1, start
    while i < len(text):
        if text.startswith("${", i):
            depth, i = depth + 1, i + 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _braced(inner: str, written: str, lookup: Callable[[str], str | None], compose: bool) -> str:
    name = _NAME.match(inner)
    if name is None:
        return written
    value, rest = lookup(name.group()), inner[name.end() :]
    if not rest:
        return value if value is not None else (written if compose else "")
    for op in (":-", "-"):
        if rest.startswith(op):
            if value is None or (op == ":-" and value == ""):
                return substitute(rest[len(op) :], lookup, compose=compose)
            return value
    return written  # ${VAR:?err}, ${VAR:+alt}, …: never evaluated


def substitute(text: str, lookup: Callable[[str], str | None], *, compose: bool = True) -> str:
    """``text`` with ``${VAR:-default}``, ``${VAR-default}``, ``${VAR}`` and ``$VAR`` filled in from ``lookup``.

    ``compose=True`` (a compose value): ``$$`` is a ``$`` and an unset variable without a default stays as
    written. ``compose=False`` (an env file line, as a shell reads it): an unset variable is empty.
    """
    if "$" not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "$" or i + 1 == len(text):
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$" and compose:
            out.append("$")
            i += 2
        elif nxt == "{":
            end = _closing(text, i + 2)
            if end < 0:
                out.append(text[i:])
                break
            out.append(_braced(text[i + 2 : end], text[i : end + 1], lookup, compose))
            i = end + 1
        elif plain := _NAME.match(text, i + 1):
            value = lookup(plain.group())
            out.append(value if value is not None else (text[i : plain.end()] if compose else ""))
            i = plain.end()
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _quoted(rest: str, quote: str) -> str:
    """The body of a quoted env value (backslash escapes inside double quotes, an escaped ``$`` as NUL so that
    it is not expanded); lenient when unclosed."""
    out: list[str] = []
    i = 1
    while i < len(rest) and rest[i] != quote:
        if quote == '"' and rest[i] == "\\" and i + 1 < len(rest):
            nxt = rest[i + 1]
            out.append({"n": "\n", "t": "\t", "$": "\0"}.get(nxt, nxt if nxt in '"\\`' else "\\" + nxt))
            i += 2
            continue
        out.append(rest[i])
        i += 1
    return "".join(out)


def parse_env(text: str) -> dict[str, str]:
    """An env file's variables, line by line, each ``$VAR`` expanded from the lines above it (as text)."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _ENV_LINE.match(line)
        if match is None:
            continue
        key, rest = match.groups()
        if rest.startswith("'"):
            values[key] = _quoted(rest, "'")
            continue
        if rest.startswith('"'):
            values[key] = substitute(_quoted(rest, '"'), values.get, compose=False).replace("\0", "$")
            continue
        values[key] = substitute(_INLINE_COMMENT.sub("", rest).strip(), values.get, compose=False)
    return values


def compose_files(env: Mapping[str, str]) -> list[str]:
    """The files ``COMPOSE_FILE`` names, in order, without repeats or empty entries."""
    raw = env.get("COMPOSE_FILE")
    if raw is None:
        return []
    return list(dict.fromkeys(part.strip() for part in raw.split(":") if part.strip()))


# ---------------------------------------------------------------------------------------------
# The run's app env
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppEnv:
    """A run's app env file: its path inside the run dir and its variables (None when unreadable)."""

    path: str
    values: Mapping[str, str] | None
    problem: str | None = None


def _recipe_of(values: Mapping[str, str]) -> str | None:
    named = values.get("RECIPE") or values.get("TYPE")
    return named.split(":", 1)[0].strip() if named else None


def find_app_env(run_dir: Path, recipe: str) -> AppEnv | None:
    """The app env of ``recipe`` under the run's ``abra/servers/*/``: the file whose ``TYPE``/``RECIPE`` names
    it (or the only env file there, if it names none); None when the run has none. An env file that cannot be
    read is returned with its problem when no readable one belongs to the recipe: it may have been this one."""
    servers = dir_in_run(run_dir, "abra/servers")
    if servers is None:
        return None
    readable: list[tuple[str, dict[str, str]]] = []
    unreadable: list[AppEnv] = []
    seen = 0
    try:
        server_names = sorted(e.name for e in os.scandir(servers))
        for server in server_names:
            if dir_in_run(run_dir, f"abra/servers/{server}") is None:
                continue
            for name in sorted(e.name for e in os.scandir(servers / server) if e.name.endswith(".env")):
                seen += 1
                if seen > MAX_ENV_CANDIDATES:
                    break
                relative = f"abra/servers/{server}/{name}"
                try:
                    raw = read_bytes_in_run(run_dir, relative, MAX_ENV_BYTES)
                    readable.append((relative, parse_env(raw.decode("utf-8"))))
                except Unsafe as exc:
                    unreadable.append(AppEnv(relative, None, exc.reason))
                except UnicodeDecodeError:
                    unreadable.append(AppEnv(relative, None, f"{relative} is not UTF-8 text"))
                except OSError as exc:
                    unreadable.append(AppEnv(relative, None, f"{relative} cannot be read ({exc.strerror or exc})"))
    except OSError:
        return None
    for relative, values in readable:
        if _recipe_of(values) == recipe:
            return AppEnv(relative, values)
    if len(readable) == 1 and not unreadable and _recipe_of(readable[0][1]) is None:
        return AppEnv(*readable[0])
    return unreadable[0] if unreadable else None
