"""What a config value may be, and the operator's message when it is not.

Plain rules are msgspec constraints (``Meta``: ranges, patterns, lengths), each with the phrase its error
shows. What msgspec cannot express (a crontab line as APScheduler reads it, a time zone, a template's
placeholders) is a ``str`` or ``tuple`` subclass with a ``parse`` that msgspec calls for it (:func:`_decode`).
:func:`convert` phrases msgspec's first error as ``key.path: expected …, got …``.
"""

from __future__ import annotations

import re
import reprlib
import string
from pathlib import Path
from typing import Annotated, Any, ClassVar, Self

import msgspec
from msgspec import Meta
from msgspec import inspect as mi

from bot.errors import BadInput
from bot.logsetup import LEVELS, LogFormat

MAX_SECONDS = 31_536_000  # a year: longer waits are typos, and bigger numbers overflow timers
PLACEHOLDERS = frozenset({"recipe", "version", "run_id"})  # in the runner's argv and environment
_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class ConfigError(BadInput, ValueError):
    """A configuration problem, phrased as ``key.path: expected …, got …``."""


class Invalid(BadInput, ValueError):
    """A value a ``parse`` refused; ``at`` continues the key path when the problem is inside it (``.NAME``)."""

    def __init__(self, message: str, at: str = "") -> None:
        super().__init__(message)
        self.at = at


_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 70
_SHORT.maxlevel = 3


def got(value: Any) -> str:
    """What was found, for "got …": type and a bounded repr (never walks a huge or aliased value)."""
    return f"{type(value).__name__} {_SHORT.repr(value)}"[:80]


def _rule(expected: str, **constraints: Any) -> Meta:
    return Meta(**constraints, extra={"expected": expected})


Text = Annotated[str, _rule("a non-empty string", min_length=1)]
Integer = Annotated[int, _rule("an integer")]
PositiveInt = Annotated[int, _rule("an integer >= 1", ge=1)]
Count = Annotated[int, _rule("an integer >= 0", ge=0)]
Seconds = Annotated[float, _rule(f"a number of seconds >= 0 and <= {MAX_SECONDS} (a year)", ge=0, le=MAX_SECONDS)]
PositiveSeconds = Annotated[
    float, _rule(f"a number of seconds > 0 and <= {MAX_SECONDS} (a year)", gt=0, le=MAX_SECONDS)
]
Fraction = Annotated[float, _rule("a number from 0 to 1", ge=0, le=1)]
Flag = Annotated[bool, _rule("true or false")]
Format = Annotated[LogFormat, _rule(f"one of {', '.join(f.value for f in LogFormat)}")]
EnvName = Annotated[str, _rule("an environment variable name", pattern=_ENV_NAME)]
UserId = Annotated[
    str, _rule("a Matrix user id like @bot:example.org", pattern=r"(?a)^@[a-z0-9._=/+-]+:[A-Za-z0-9.-]+(?::\d+)?$")
]
# Room ids of room versions >= 12 have no ":server" part; aliases always do.
Room = Annotated[
    str,
    _rule(
        "a room id (!id:server) or alias (#name:server)",
        pattern=r"(?a)^(?:![^\s:]+(?::[A-Za-z0-9.-]+(?::\d+)?)?|#[^:\s]+:[A-Za-z0-9.-]+(?::\d+)?)$",
    ),
]
Prefix = Annotated[str, _rule("a prefix without spaces", pattern=r"^\S+$")]
DockerUrl = Annotated[
    str, _rule("a Docker URL (unix:///var/run/docker.sock, tcp://host:2376)", pattern=r"^(?:unix|tcp|https?|ssh)://")
]
FileName = Annotated[str, _rule("a file name without '/'", pattern=r"^(?!\.\.?$)[^/\0]+$")]
Paths = Annotated[tuple[Path, ...], _rule("a list of paths")]
Names = Annotated[tuple[Text, ...], _rule("a list of names")]
EnvNames = Annotated[tuple[EnvName, ...], _rule("a list of environment variable names")]
UserIds = Annotated[tuple[UserId, ...], _rule("a list of Matrix user ids")]
Rooms = Annotated[
    tuple[Room, ...], _rule("a non-empty list of room ids (!id:server) or aliases (#name:server)", min_length=1)
]
RegistryHost = Annotated[
    str, _rule("a registry as host[:port], without a scheme", pattern=r"(?a)^[A-Za-z0-9.-]+(?::\d+)?$")
]
RegistryHosts = Annotated[tuple[RegistryHost, ...], _rule("a list of registries (host[:port])")]
Argv = Annotated[tuple[Text, ...], _rule("an argv list (never a shell string), e.g. [systemctl, stop, --]")]


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise Invalid(f"expected a non-empty string, got {got(value)}")
    return value


def _path(value: Any) -> Path:
    """A filesystem path (``~`` expanded)."""
    if not isinstance(value, str) or not value or "\0" in value:
        raise Invalid(f"expected a path, got {got(value)}")
    try:
        return Path(value).expanduser()
    except RuntimeError as exc:  # ~user whose home is unknown
        raise Invalid(f"expected a path, got {value!r} ({exc})") from None


def _fields(template: str) -> set[str]:
    """The placeholder names in a ``str.format`` template; one with a format spec or conversion is named
    whole (``{recipe:>9}``), so it is never an allowed plain name."""
    names: set[str] = set()
    try:
        for _, name, spec, conversion in string.Formatter().parse(template):
            if name is not None and (spec or conversion):
                names.add(f"{{{name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}}")
            elif name is not None:
                names.add(name)
    except ValueError as exc:
        raise Invalid(f"not a valid template ({exc}); write {{{{ and }}}} for literal braces") from None
    return names


class HttpUrl(str):
    """An http(s) URL without a trailing ``/`` (paths are appended to it)."""

    @classmethod
    def parse(cls, value: Any) -> Self:
        if not _text(value).startswith(("http://", "https://")):
            raise Invalid(f"expected an http(s) URL, got {value!r}")
        return cls(value.rstrip("/"))


class Template(str):
    """An argv or environment template: ``{recipe}``, ``{version}`` and ``{run_id}`` are filled in."""

    @classmethod
    def parse(cls, value: Any, at: str = "") -> Self:
        if not isinstance(value, str):
            raise Invalid(f"expected a string, got {got(value)}", at)
        if unknown := _fields(value) - PLACEHOLDERS:
            raise Invalid(f"unknown placeholder(s) {sorted(unknown)}; allowed: {sorted(PLACEHOLDERS)}", at)
        return cls(value)


Step = Annotated[tuple[Template, ...], _rule("a non-empty argv list (never a shell string)", min_length=1)]
Steps = Annotated[
    tuple[Step, ...], _rule("a list of argv lists (never a shell string), e.g. [[abra, recipe, ...]]", min_length=1)
]


class EnvMap(tuple[tuple[str, str], ...]):
    """Environment variables for the runner, as (name, template) pairs; numbers are written as text."""

    @classmethod
    def parse(cls, value: Any) -> Self:
        if not isinstance(value, dict):
            raise Invalid(f"expected a mapping of environment variables, got {got(value)}")
        pairs = []
        for name, raw in value.items():
            if isinstance(raw, bool) or not isinstance(raw, str | int | float):
                raise Invalid(f"expected a string, got {got(raw)}", f".{name}")
            if not isinstance(name, str) or not re.match(_ENV_NAME, name):
                raise Invalid(f"expected an environment variable name, got {name!r}", f".{name}")
            pairs.append((name, str(Template.parse(str(raw), f".{name}"))))
        return cls(pairs)


def _names(names: tuple[str, ...]) -> str:
    """``{a}``, ``{a} and {b}``, ``{a}, {b} and {c}``."""
    shown = [f"{{{n}}}" for n in names]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"


class _LinkTemplate(str):
    """A URL template in which every ``required`` placeholder appears and no others than ``optional``;
    with ``web`` it must be an http(s) URL (it is a link in chat)."""

    required: ClassVar[tuple[str, ...]]
    optional: ClassVar[tuple[str, ...]]
    web: ClassVar[bool]

    def __init_subclass__(cls, required: tuple[str, ...], optional: tuple[str, ...] = (), web: bool = True) -> None:
        cls.required, cls.optional, cls.web = required, optional, web

    @classmethod
    def parse(cls, value: Any) -> Self:
        names = _fields(_text(value))
        if any(n not in names for n in cls.required):
            raise Invalid(f"expected a URL template containing {_names(cls.required)}, got {value!r}")
        allowed = (*cls.required, *cls.optional)
        if extra := names - set(allowed):
            which = "placeholders are" if len(allowed) > 1 else "placeholder is"
            raise Invalid(f"only {_names(allowed)} {which} allowed (got {sorted(extra)})")
        if cls.web and not value.startswith(("http://", "https://")):
            raise Invalid(f"expected an http(s) URL template, got {value!r}")
        return cls(value)


class UrlTemplate(_LinkTemplate, required=("run_id",), optional=("path",), web=False):
    """Where a run's files are, in any scheme: the first links setting never asked for one (files stay valid)."""


class RecipeUrlTemplate(_LinkTemplate, required=("recipe",)): ...


class RecipeTagUrlTemplate(_LinkTemplate, required=("recipe", "version")): ...


class CompareUrlTemplate(_LinkTemplate, required=("recipe", "from", "to")): ...


class CommitUrlTemplate(_LinkTemplate, required=("commit",), optional=("path",)): ...


class Regex(str):
    @classmethod
    def parse(cls, value: Any) -> Self:
        try:
            re.compile(_text(value))
        except (re.error, OverflowError, RecursionError) as exc:
            raise Invalid(f"invalid regular expression ({exc})") from None
        return cls(value)


class TimeZone(str):
    @classmethod
    def parse(cls, value: Any) -> Self:
        # here: only a file that sets a zone needs the tz database (zoneinfo loads sysconfig: ~5 ms a CLI start)
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(_text(value))
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise Invalid(f"expected an IANA time zone like UTC or Europe/Berlin, got {value!r}") from None
        return cls(value)


class Cron(str):
    """A crontab line, checked by APScheduler itself (the parse the report loop uses)."""

    @classmethod
    def parse(cls, value: Any) -> Self:
        from bot.schedule import CronError, parse_cron  # here: APScheduler only for a file that sets it

        try:
            parse_cron(_text(value), "UTC")
        except CronError as exc:
            raise Invalid(str(exc)) from None
        return cls(value)


class ListenAddress(str):
    @classmethod
    def parse(cls, value: Any) -> Self:
        host, sep, port = _text(value).rpartition(":")
        if not sep or not host or not (port.isascii() and port.isdigit()) or not 0 <= int(port) <= 65535:
            raise Invalid(f"expected host:port like 127.0.0.1:8080, got {value!r}")
        return cls(value)


class LogLevel(str):
    """A logging level, in any case (kept in lower case)."""

    @classmethod
    def parse(cls, value: Any) -> Self:
        if _text(value).lower() not in LEVELS:
            raise Invalid(f"expected one of {', '.join(LEVELS)}, got {got(value)}")
        return cls(value.lower())


def _decode(cls: type, value: Any) -> Any:
    """msgspec's hook for the types it does not know: a path, or one of the checked kinds above."""
    if cls is Path:
        return _path(value)
    parse = getattr(cls, "parse", None)
    if parse is None:
        raise NotImplementedError(cls)
    return parse(value)


def convert(value: Any, kind: Any, key: str) -> Any:
    """``value`` (plain YAML data) as a ``kind`` of value, or a :class:`ConfigError` that names ``key``'s path."""
    try:
        return msgspec.convert(value, kind, dec_hook=_decode)
    except msgspec.ValidationError as exc:
        raise ConfigError(_explain(exc, value, kind, key)) from None


def listen_address(value: Any, key: str) -> str:
    """A ``host:port`` to listen on (also the CLI's ``--listen``)."""
    found: str = convert(value, ListenAddress, key)
    return found


def _explain(exc: msgspec.ValidationError, data: Any, kind: Any, key: str) -> str:
    """msgspec's "<what> - at `$.a.b[0]`" (or "… - at `key` in `$.a`") as the operator's message."""
    text, sep, at = str(exc).rpartition(" - at `")  # the path holds only field names and indexes
    text, at = (text, at.rstrip("`")) if sep else (at, "$")
    bad_key = at.startswith("key` in `")  # a key that is not text, in the mapping at that path
    at = at.removeprefix("key` in `")
    where = (key + at[1:]).lstrip(".")
    if isinstance(exc.__cause__, Invalid):  # a kind's own parse refused it, and said why
        return f"{where}{exc.__cause__.at}: {exc.__cause__}"
    value, kind_at = data, mi.type_info(kind)
    for name, index in re.findall(r"\.(\w+)|\[(\d+)\]", at):  # msgspec walked this path: it is in the data
        part = int(index) if index else name
        value, kind_at = value[part], _inside(kind_at, part)
    if bad_key or text.startswith("Object contains unknown field `"):
        name = str(next(k for k in value if not isinstance(k, str))) if bad_key else text.split("`", 1)[1][:-1]
        return _unknown(_bare(kind_at), where, name)
    # A string of the right type is shown as itself; anything else with its type ("got int 3").
    shown = repr(value) if isinstance(value, str) and value and ", got `" not in text else got(value)
    return f"{where or 'the file'}: expected {_phrase(kind_at) or text}, got {shown}"


def _bare(t: mi.Type) -> Any:
    return _bare(t.type) if isinstance(t, mi.Metadata) else t


def _inside(t: mi.Type, part: str | int) -> mi.Type:
    t = _bare(t)
    if isinstance(t, mi.StructType):
        return next(f.type for f in t.fields if f.name == part)
    return t.item_type if isinstance(t, mi.VarTupleType) else t


def _phrase(t: mi.Type) -> str | None:
    if isinstance(t, mi.Metadata):
        return str((t.extra or {}).get("expected", "")) or _phrase(t.type)
    if isinstance(t, mi.UnionType):  # a key that may be null: what the other member expects
        return next(filter(None, map(_phrase, t.types)), None)
    return "a mapping" if isinstance(t, mi.StructType) else None


def _unknown(section: Any, path: str, name: str) -> str:
    key = f"{path}.{name}" if path else name
    if any(word in name.lower() for word in ("password", "token", "secret")) and not name.endswith("_env"):
        secret = f"set {key}_env to the name of an environment variable that holds it"
        return f"{key}: secrets are not read from the file; {secret}"
    if name in (renamed := getattr(section.cls, "RENAMED", {})):
        return f"{key}: renamed to {renamed[name]}"
    return f"{key}: unknown key (allowed: {', '.join(sorted(f.name for f in section.fields))})"
