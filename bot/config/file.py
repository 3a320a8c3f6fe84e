"""Reading the config file's bytes into plain data, refusing what YAML allows but a config never needs.

A config is a few KiB of UTF-8. Refused, each with a :class:`ConfigError` that says what and where:
files over :data:`MAX_BYTES` (before parsing), bytes that are not UTF-8, duplicate keys (YAML would
silently keep the last), NaN and infinities, and documents that expand through aliases beyond
:data:`MAX_VALUES` values or nest deeper than :data:`MAX_DEPTH` ("billion laughs": the parse is cheap
because aliases share one object, but anything that walks or prints the value would not be). Merge
keys (``<<``) are deduplicated as they are flattened, so chained merges cannot double at every level.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

from bot.config.values import ConfigError

MAX_BYTES = 256 << 10  # 30 times the fully commented example; parsing this much takes under a second
MAX_VALUES = 100_000  # values after aliases are expanded; a full config has a few hundred
MAX_DEPTH = 32  # a config nests four deep

_MERGE_TAG = "tag:yaml.org,2002:merge"
_NOT_SCALAR = object()  # a key that is a collection: PyYAML itself refuses it as unhashable
_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _where(node: Node) -> str:
    return f"line {node.start_mark.line + 1}, column {node.start_mark.column + 1}"


class StrictLoader(_Base):  # type: ignore[valid-type,misc]
    """PyYAML's safe loader (libyaml when available) refusing duplicate keys and non-finite floats."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._flattened: set[int] = set()

    def _key(self, node: Node) -> Any:
        return self.construct_object(node, deep=True) if isinstance(node, ScalarNode) else _NOT_SCALAR

    def flatten_mapping(self, node: MappingNode) -> None:
        if id(node) in self._flattened:  # merged into another mapping already; flattened in place then
            return
        self._flattened.add(id(node))
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG or (key := self._key(key_node)) is _NOT_SCALAR:
                continue
            if key in seen:
                raise ConfigError(f"{_where(key_node)}: duplicate key {key!r} (YAML would silently keep the last)")
            seen.add(key)
        super().flatten_mapping(node)
        # Later pairs win when the mapping is built; keep only those, so merges of merges stay linear.
        kept, later = [], set()
        for pair in reversed(node.value):
            if (key := self._key(pair[0])) is _NOT_SCALAR or key not in later:
                kept.append(pair)
                later.add(key)
        node.value = kept[::-1]

    def construct_yaml_float(self, node: ScalarNode) -> float:
        value: float = super().construct_yaml_float(node)
        if not math.isfinite(value):
            raise ConfigError(f"{_where(node)}: expected a finite number, got {node.value!r}")
        return value


StrictLoader.add_constructor("tag:yaml.org,2002:float", StrictLoader.construct_yaml_float)


def check_shape(data: Any) -> None:
    """Refuse documents that expand past :data:`MAX_VALUES` or nest past :data:`MAX_DEPTH`, or contain
    themselves. Walks each distinct object once (iteratively), so an alias bomb costs no more than its text."""
    sizes: dict[int, int] = {}
    depths: dict[int, int] = {}
    open_ids: set[int] = set()
    stack: list[tuple[Any, bool]] = [(data, False)] if isinstance(data, list | dict) else []
    while stack:
        obj, done = stack.pop()
        children = list(obj.values()) if isinstance(obj, dict) else obj
        if done:
            size = 1 + sum(sizes.get(id(c), 1) for c in children)
            depth = 1 + max((depths.get(id(c), 0) for c in children), default=0)
            if size > MAX_VALUES:
                raise ConfigError(
                    f"more than {MAX_VALUES} values once YAML aliases are expanded (an alias bomb?); refused"
                )
            if depth > MAX_DEPTH:
                raise ConfigError(f"nested deeper than {MAX_DEPTH} levels; refused")
            sizes[id(obj)], depths[id(obj)] = size, depth
            open_ids.discard(id(obj))
            continue
        if id(obj) in sizes:
            continue
        if id(obj) in open_ids:
            raise ConfigError("a value contains itself through a YAML alias; refused")
        open_ids.add(id(obj))
        stack.append((obj, True))
        stack.extend((c, False) for c in children if isinstance(c, list | dict) and id(c) not in sizes)


def parse_yaml(text: str) -> Any:
    """One YAML document as plain data; every problem is a :class:`ConfigError` without the file name."""
    try:
        data = yaml.load(text, Loader=StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML ({exc})") from exc
    except RecursionError as exc:  # the pure-Python parser recurses per nesting level
        raise ConfigError(f"nested deeper than {MAX_DEPTH} levels; refused") from exc
    except ConfigError:
        raise
    except ValueError as exc:  # a scalar its resolver took for a number it cannot be: `0b_`, `0x_`
        raise ConfigError(f"not valid YAML (a value that looks like a number is not one: {exc})") from exc
    check_shape(data)
    return data


def parse_document(raw: bytes) -> Any:
    """A config file's bytes as plain data: size, encoding and YAML checked; errors without the file name."""
    if len(raw) > MAX_BYTES:
        raise ConfigError(f"larger than {MAX_BYTES // 1024} KiB; a config is a few KiB, refused unread")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); save it as UTF-8"
        ) from exc
    return parse_yaml(text)


def read_yaml(path: Path) -> Any:
    """Read ``path`` (never more than :data:`MAX_BYTES` + 1 bytes) and parse it; errors name the path."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        return parse_document(raw)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
