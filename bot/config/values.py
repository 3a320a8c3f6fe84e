"""The value checks behind every config key: each takes the raw YAML value and its key path.

Each returns the typed value or raises :class:`ConfigError` phrased ``key.path: expected …, got …``,
so an operator can fix the file without reading code. :mod:`bot.config` names one of these per key.
"""

from __future__ import annotations

import re
import reprlib
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from bot.config.cron import CronError, check_cron
from bot.logsetup import LEVELS, LogFormat

T = TypeVar("T")
MAX_SECONDS = 31_536_000  # a year: longer waits are typos, and bigger numbers overflow timers


class ConfigError(ValueError):
    """A configuration problem, phrased as ``key.path: expected …, got …``."""


_SHORT = reprlib.Repr()
_SHORT.maxstring = 70
_SHORT.maxother = 70
_SHORT.maxlevel = 3


def kind(value: Any) -> str:
    """What was found, for "got …": type and a bounded repr (never walks a huge or aliased value)."""
    return f"{type(value).__name__} {_SHORT.repr(value)}"[:80]


def _str(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{key}: expected a non-empty string, got {kind(value)}")
    return value


def text(value: Any, key: str) -> str:
    """Any non-empty string."""
    return _str(value, key)


def path(value: Any, key: str) -> Path:
    """A filesystem path (``~`` expanded)."""
    if not isinstance(value, str) or not value or "\0" in value:
        raise ConfigError(f"{key}: expected a path, got {kind(value)}")
    try:
        return Path(value).expanduser()
    except RuntimeError as exc:  # ~user whose home is unknown
        raise ConfigError(f"{key}: expected a path, got {value!r} ({exc})") from exc


def each(value: Any, key: str, what: str, check: Callable[[Any, str], T]) -> tuple[T, ...]:
    """A YAML list whose every item passes ``check``; an item's errors name it as ``key[i]``."""
    if not isinstance(value, list):
        raise ConfigError(f"{key}: expected a list of {what}, got {kind(value)}")
    return tuple(check(v, f"{key}[{i}]") for i, v in enumerate(value))


def path_list(value: Any, key: str) -> tuple[Path, ...]:
    return each(value, key, "paths", path)


_USER_ID = re.compile(r"^@[a-z0-9._=/+-]+:[A-Za-z0-9.-]+(?::\d+)?$", re.ASCII)
# Room ids of room versions ≥ 12 have no ":server" part; aliases always do.
_ROOM = re.compile(r"^(?:![^\s:]+(?::[A-Za-z0-9.-]+(?::\d+)?)?|#[^:\s]+:[A-Za-z0-9.-]+(?::\d+)?)$", re.ASCII)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$", re.ASCII)


def http_url(value: Any, key: str) -> str:
    url = _str(value, key)
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{key}: expected an http(s) URL, got {url!r}")
    return url.rstrip("/")


def user_id(value: Any, key: str) -> str:
    found = _str(value, key)
    if not _USER_ID.match(found):
        raise ConfigError(f"{key}: expected a Matrix user id like @bot:example.org, got {found!r}")
    return found


def user_ids(value: Any, key: str) -> tuple[str, ...]:
    return each(value, key, "Matrix user ids", user_id)


def rooms(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{key}: expected a non-empty list of room ids (!id:server) or aliases (#name:server)")
    found = tuple(_str(v, f"{key}[{i}]") for i, v in enumerate(value))
    for i, room in enumerate(found):
        if not _ROOM.match(room):
            raise ConfigError(f"{key}[{i}]: expected a room id (!id:server) or alias (#name:server), got {room!r}")
    return found


def env_name(value: Any, key: str) -> str:
    name = _str(value, key)
    if not _ENV_NAME.match(name):
        raise ConfigError(f"{key}: expected an environment variable name, got {name!r}")
    return name


def env_names(value: Any, key: str) -> tuple[str, ...]:
    return each(value, key, "environment variable names", env_name)


def prefix(value: Any, key: str) -> str:
    found = _str(value, key)
    if any(ch.isspace() for ch in found):
        raise ConfigError(f"{key}: expected a prefix without spaces, got {found!r}")
    return found


def integer(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{key}: expected an integer, got {kind(value)}")
    return value


def positive_int(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{key}: expected an integer >= 1, got {kind(value)}")
    return value


def int_at_least_0(value: Any, key: str) -> int:
    number = integer(value, key)
    if number < 0:
        raise ConfigError(f"{key}: expected an integer >= 0, got {kind(value)}")
    return number


def seconds(value: Any, key: str) -> float:
    # Comparisons refuse NaN, and keep a huge int from overflowing float().
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ConfigError(f"{key}: expected a number of seconds >= 0, got {kind(value)}")
    if not value <= MAX_SECONDS:
        raise ConfigError(f"{key}: expected at most {MAX_SECONDS} seconds (a year), got {kind(value)}")
    return float(value)


def positive_seconds(value: Any, key: str) -> float:
    found = seconds(value, key)
    if found <= 0:
        raise ConfigError(f"{key}: expected a number of seconds > 0, got {kind(value)}")
    return found


def boolean(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key}: expected true or false, got {kind(value)}")
    return value


def fraction(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ConfigError(f"{key}: expected a number from 0 to 1, got {kind(value)}")
    return float(value)


def _fields(template: str, key: str, allowed: set[str]) -> set[str]:
    """The placeholder names in a ``str.format`` template; only plain ``{name}`` fields are allowed."""
    names: set[str] = set()
    try:
        for _, name, spec, conversion in string.Formatter().parse(template):
            if name is None:
                continue
            if spec or conversion:
                names.add(f"{{{name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}}")
            else:
                names.add(name)
    except ValueError as exc:
        raise ConfigError(f"{key}: not a valid template ({exc}); write {{{{ and }}}} for literal braces") from exc
    return names


PLACEHOLDERS = frozenset({"recipe", "version", "run_id"})


def template(value: Any, key: str) -> str:
    """An argv or environment template: ``{recipe}``, ``{version}`` and ``{run_id}`` are filled in."""
    if not isinstance(value, str):
        raise ConfigError(f"{key}: expected a string, got {kind(value)}")
    unknown = _fields(value, key, set(PLACEHOLDERS)) - PLACEHOLDERS
    if unknown:
        raise ConfigError(f"{key}: unknown placeholder(s) {sorted(unknown)}; allowed: {sorted(PLACEHOLDERS)}")
    return value


def argv_list(value: Any, key: str) -> tuple[tuple[str, ...], ...]:
    if not isinstance(value, list) or not value or not all(isinstance(step, list) and step for step in value):
        raise ConfigError(f"{key}: expected a list of argv lists (never a shell string), e.g. [[abra, recipe, ...]]")
    return tuple(tuple(template(arg, f"{key}[{i}][{j}]") for j, arg in enumerate(step)) for i, step in enumerate(value))


def argv(value: Any, key: str) -> tuple[str, ...]:
    """One argv list without placeholders (never a shell string); an empty list means "none"."""
    if not isinstance(value, list):
        raise ConfigError(f"{key}: expected an argv list (never a shell string), e.g. [systemctl, stop, --]")
    return each(value, key, "arguments", _str)


def env_map(value: Any, key: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected a mapping of environment variables, got {kind(value)}")
    found = []
    for name, raw in value.items():
        sub = f"{key}.{name}"
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            raise ConfigError(f"{sub}: expected a string, got {kind(raw)}")
        found.append((env_name(name, sub), template(str(raw), sub)))
    return tuple(found)


def regex(value: Any, key: str) -> str:
    pattern = _str(value, key)
    try:
        re.compile(pattern)
    except (re.error, OverflowError, RecursionError) as exc:
        raise ConfigError(f"{key}: invalid regular expression ({exc})") from exc
    return pattern


def docker_url(value: Any, key: str) -> str:
    url = _str(value, key)
    if not url.startswith(("unix://", "tcp://", "http://", "https://", "ssh://")):
        raise ConfigError(f"{key}: expected a Docker URL (unix:///var/run/docker.sock, tcp://host:2376), got {url!r}")
    return url


def name_list(value: Any, key: str) -> tuple[str, ...]:
    return each(value, key, "names", _str)


def file_name(value: Any, key: str) -> str:
    name = _str(value, key)
    if "/" in name or "\0" in name or name in (".", ".."):
        raise ConfigError(f"{key}: expected a file name without '/', got {name!r}")
    return name


def timezone(value: Any, key: str) -> str:
    # here: only a file that sets a zone needs the tz database (zoneinfo loads sysconfig: ~5 ms a CLI start)
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = _str(value, key)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ConfigError(f"{key}: expected an IANA time zone like UTC or Europe/Berlin, got {name!r}") from exc
    return name


def cron(value: Any, key: str) -> str:
    line = _str(value, key)
    try:
        check_cron(line)
    except CronError as exc:
        raise ConfigError(f"{key}: {exc}") from exc
    return line


def listen_address(value: Any, key: str) -> str:
    address = _str(value, key)
    host, sep, port = address.rpartition(":")
    if not sep or not host or not (port.isascii() and port.isdigit()) or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{key}: expected host:port like 127.0.0.1:8080, got {address!r}")
    return address


LINK_PLACEHOLDERS = frozenset({"run_id", "path"})


def url_template(value: Any, key: str) -> str:
    url = _str(value, key)
    names = _fields(url, key, set(LINK_PLACEHOLDERS))
    if "run_id" not in names:
        raise ConfigError(f"{key}: expected a URL template containing {{run_id}}, got {url!r}")
    if names - LINK_PLACEHOLDERS:
        raise ConfigError(
            f"{key}: only {{run_id}} and {{path}} placeholders are allowed (got {sorted(names - LINK_PLACEHOLDERS)})"
        )
    return url


def log_level(value: Any, key: str) -> str:
    level = _str(value, key).lower()
    if level not in LEVELS:
        raise ConfigError(f"{key}: expected one of {', '.join(LEVELS)}, got {kind(value)}")
    return level


def log_format(value: Any, key: str) -> LogFormat:
    name = _str(value, key)
    try:
        return LogFormat(name)
    except ValueError:
        raise ConfigError(f"{key}: expected one of {', '.join(f.value for f in LogFormat)}, got {name!r}") from None
