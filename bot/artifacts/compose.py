"""A recipe's effective compose at a ref: the files its ``COMPOSE_FILE`` names, merged as compose does.

Co-op Cloud recipes keep a service in an override file (the database in ``compose.postgres.yml``) that
the app's env file switches on line by line: ``COMPOSE_FILE="compose.yml"``, then
``COMPOSE_FILE="$COMPOSE_FILE:compose.postgres.yml"``; a commented-out line is an option not taken.
Reading ``compose.yml`` alone compared a failing recipe's database with a peer's app. So:

* **Which env** — the run's own app env, else the recipe's ``.env.sample`` at the ref, else none
  (:mod:`bot.artifacts.appenv` finds and reads it).
* **Which files** — ``COMPOSE_FILE`` split on ``:``; without it ``compose.yml`` (``docker-compose.yml`` in
  old recipes). Each is read at the ref with ``git cat-file`` (plumbing: no filters, no pager) through
  :mod:`bot.artifacts.gitrun`, all files of all refs asked in one batch; a blob over
  :data:`MAX_FILE_BYTES` is not read. YAML goes through the config reader's safe loader
  (:func:`bot.config.file.parse_yaml`: duplicate keys, alias bombs and depth refused).
* **Values** — ``${VAR:-default}``, ``${VAR-default}``, ``${VAR}`` and ``$VAR`` are substituted from the
  env in values (not in mapping keys, as compose does), ``$$`` is a ``$``; a variable with no value and
  no default stays as written (``${STACK_NAME}``, which abra sets at deploy), and every other form
  (``${VAR:?err}``, ``${VAR:+alt}``) stays as written: nothing is evaluated.
* **Merging** — files in order, as ``docker compose`` merges them: a later file adds services and keys;
  mappings merge key by key (``deploy``, ``healthcheck``, ``logging``); ``environment``, ``labels`` and
  ``deploy.labels`` are first turned from ``KEY=value`` lists into mappings, so they merge by key;
  ``command``, ``entrypoint`` and ``healthcheck.test`` are replaced; ``volumes`` (by target), ``ports``,
  ``secrets`` and ``configs`` (by source) merge by their unique key, later entries replacing earlier
  ones; every other list is appended to, without repeats. ``version``, ``name`` and ``x-…`` fields are
  dropped (anchors and ``<<`` merge keys have done their work by then). Each label, and each key of a
  service, remembers the file it came from.

What could not be read (a named file missing at the ref, an unreadable app env, invalid YAML) is kept in
:attr:`EffectiveCompose.problems`: such a compose is partial, and nothing may be said about what it lacks.
"""

from __future__ import annotations

import posixpath
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.artifacts.appenv import AppEnv, compose_files, parse_env, substitute
from bot.artifacts.gitrun import git_bytes
from bot.config.file import parse_yaml
from bot.config.values import ConfigError

MAX_FILE_BYTES = 256 << 10  # a recipe's compose file or .env.sample is a few KiB (bonfire's compose.yml: 5 KiB)
MAX_COMPOSE_FILES = 16  # COMPOSE_FILE entries read per app; recipes name two to five
BASE_FILES = ("compose.yml", "docker-compose.yml")
ENV_SAMPLE = ".env.sample"

_REPLACED = frozenset({("command",), ("entrypoint",), ("healthcheck", "test")})
_TOP_MERGED = ("volumes", "networks", "configs", "secrets")


# ---------------------------------------------------------------------------------------------
# Reading blobs at refs
# ---------------------------------------------------------------------------------------------


class _GitFailed(Exception):
    """git itself failed (not a repository, killed, timed out): nothing can be said about the clone."""


@dataclass(frozen=True)
class _Absent:
    reason: str  # "missing", or why it was not read


_MISSING = _Absent("missing")


class _Blobs:
    """Files of a clone at refs, asked in batches: one ``cat-file --batch-check`` and one ``--batch`` each."""

    def __init__(self, clone: Path) -> None:
        self.clone = clone
        self.cache: dict[str, bytes | _Absent] = {}
        self.parsed: dict[bytes, Any] = {}  # YAML by content: most files are the same at many tags

    def yaml(self, blob: bytes, text: str) -> Any:
        """``text`` (the decoded ``blob``) parsed once per distinct content; a ConfigError is raised again."""
        if blob not in self.parsed:
            try:
                self.parsed[blob] = parse_yaml(text)
            except ConfigError as exc:
                self.parsed[blob] = exc
        found = self.parsed[blob]
        if isinstance(found, ConfigError):
            raise found
        return found

    def fetch(self, specs: Sequence[str]) -> None:
        todo = [s for s in dict.fromkeys(specs) if s not in self.cache]
        if not todo:
            return
        try:
            check = git_bytes(
                self.clone,
                ["cat-file", "--batch-check=%(objectname) %(objecttype) %(objectsize)"],
                "".join(f"{s}\n" for s in todo).encode(),
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise _GitFailed(str(exc)) from exc
        lines = check.stdout.decode("utf-8", "replace").splitlines()
        if check.returncode != 0 or len(lines) != len(todo):
            raise _GitFailed(check.stderr.decode("utf-8", "replace").strip()[:200])
        wanted: list[tuple[str, str, int]] = []
        for spec, line in zip(todo, lines, strict=True):
            parts = line.rsplit(" ", 2)
            if line.endswith((" missing", " ambiguous")) or len(parts) != 3 or not parts[2].isdigit():
                self.cache[spec] = _MISSING
            elif parts[1] != "blob":
                self.cache[spec] = _Absent(f"a {parts[1]}, not a file")
            elif int(parts[2]) > MAX_FILE_BYTES:
                self.cache[spec] = _Absent(f"larger than {MAX_FILE_BYTES // 1024} KiB; not read")
            else:
                wanted.append((spec, parts[0], int(parts[2])))
        if wanted:
            self._contents(wanted)

    def _contents(self, wanted: list[tuple[str, str, int]]) -> None:
        try:
            out = git_bytes(self.clone, ["cat-file", "--batch"], "".join(f"{sha}\n" for _, sha, _ in wanted).encode())
        except (OSError, subprocess.SubprocessError) as exc:
            raise _GitFailed(str(exc)) from exc
        if out.returncode != 0:
            raise _GitFailed(out.stderr.decode("utf-8", "replace").strip()[:200])
        data, pos = out.stdout, 0
        for spec, sha, size in wanted:
            end = data.find(b"\n", pos)
            if end < 0 or not data.startswith(sha.encode(), pos):
                raise _GitFailed("cat-file --batch answered out of step")
            self.cache[spec] = data[end + 1 : end + 1 + size]
            pos = end + 1 + size + 1

    def get(self, spec: str) -> bytes | _Absent:
        return self.cache.get(spec, _MISSING)


def _plain_ref(ref: str) -> bool:
    return 0 < len(ref) < 256 and not any(c in ref for c in ":\n\r\0") and not ref.startswith("-")


def _plain_path(name: str) -> str | None:
    """A COMPOSE_FILE entry as a path inside the recipe, or None (absolute, ``..``, control characters)."""
    if any(c in name for c in "\n\r\0") or name.startswith("/"):
        return None
    norm = posixpath.normpath(name)
    return None if norm in (".", "..") or norm.startswith("../") else norm


# ---------------------------------------------------------------------------------------------
# Merging
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sourced:
    """A value and the compose file it came from."""

    value: str
    file: str


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _as_mapping(raw: object, empty: str | None) -> object:
    """``KEY=value`` lists as a mapping (a bare ``KEY`` maps to ``empty``); mappings with text values."""
    if isinstance(raw, list):
        out: dict[str, str | None] = {}
        for item in raw:
            key, eq, value = _text(item).partition("=")
            out[key.strip()] = value.strip() if eq else empty
        return out
    if isinstance(raw, dict):
        return {str(k): (v if v is None and empty is None else _text(v)) for k, v in raw.items()}
    return raw


def _normalised(body: dict[str, Any]) -> dict[str, Any]:
    body = dict(body)
    if "environment" in body:
        body["environment"] = _as_mapping(body["environment"], None)
    if "labels" in body:
        body["labels"] = _as_mapping(body["labels"], "")
    deploy = body.get("deploy")
    if isinstance(deploy, dict) and "labels" in deploy:
        body["deploy"] = {**deploy, "labels": _as_mapping(deploy["labels"], "")}
    return body


def _interpolated(value: Any, lookup: Callable[[str], str | None]) -> Any:
    if isinstance(value, str):
        return substitute(value, lookup)
    if isinstance(value, dict):
        return {k: _interpolated(v, lookup) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolated(v, lookup) for v in value]
    return value


def _unique_key(attribute: str, item: Any) -> str:
    """The key a ``volumes``/``ports``/``secrets``/``configs`` entry is unique by."""
    if isinstance(item, dict):
        field_name = "target" if attribute == "volumes" else "source"
        return _text(item.get(field_name, item))
    text = _text(item)
    if attribute == "volumes":
        parts = text.split(":")
        return parts[1] if len(parts) > 1 else parts[0]
    return text


def _merge(base: Any, over: Any, path: tuple[str, ...]) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = _merge(base[key], value, (*path, str(key))) if key in base else value
        return out
    if isinstance(base, list) and isinstance(over, list) and path not in _REPLACED:
        if len(path) == 1 and path[0] in ("volumes", "ports", "secrets", "configs"):
            keyed = {_unique_key(path[0], item): item for item in base}
            keyed.update({_unique_key(path[0], item): item for item in over})
            return list(keyed.values())
        return base + [item for item in over if item not in base]
    return over


def _labels_of(body: Mapping[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    deploy = body.get("deploy")
    for raw in (deploy.get("labels") if isinstance(deploy, dict) else None, body.get("labels")):
        if isinstance(raw, dict):
            found.update({str(k): _text(v) for k, v in raw.items()})
    return found


@dataclass(frozen=True)
class ServiceView:
    """One service of the effective compose: merged body, labels with their files, where each key came from."""

    name: str
    body: Mapping[str, Any]
    labels: Mapping[str, Sourced]
    origin: Mapping[str, str]  # top-level key of the service -> the last file that set it
    files: tuple[str, ...]  # files that define or extend the service, in merge order

    @property
    def image(self) -> str:
        return _text(self.body.get("image"))

    def label_values(self) -> dict[str, str]:
        return {k: v.value for k, v in self.labels.items()}


@dataclass
class _Service:
    body: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, Sourced] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class EffectiveCompose:
    """The compose a recipe deploys at ``ref`` with one env: services merged from ``files``."""

    recipe: str
    ref: str
    env_from: str  # the app env's path in the run, ".env.sample", or "" (no env: compose.yml alone)
    files: tuple[str, ...]
    services: Mapping[str, ServiceView]
    top: Mapping[str, Any]  # top-level volumes, networks, configs, secrets (merged)
    problems: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """Every named file read: only then may anything be said about what this compose lacks."""
        return not self.problems

    def strings(self) -> Iterator[str]:
        """Service names, keys and text values after substitution: what a search for a value looks at."""
        stack: list[Any] = [dict(self.services.items()), dict(self.top)]
        while stack:
            item = stack.pop()
            if isinstance(item, ServiceView):
                stack.append(dict(item.body))
            elif isinstance(item, dict):
                for key, value in item.items():
                    yield str(key)
                    stack.append(value)
            elif isinstance(item, list):
                stack.extend(item)
            elif item is not None:
                yield _text(item)


def _decoded(blob: bytes | _Absent, name: str, ref: str, problems: list[str]) -> str | None:
    if isinstance(blob, _Absent):
        problems.append(f"{name} is {blob.reason} at {ref}" if blob is _MISSING else f"{name} at {ref}: {blob.reason}")
        return None
    try:
        return blob.decode("utf-8")
    except UnicodeDecodeError:
        problems.append(f"{name} at {ref} is not UTF-8 text")
        return None


@dataclass(frozen=True)
class _Plan:
    """Which env and files make one rendering of the recipe at a ref."""

    ref: str
    env_from: str
    values: Mapping[str, str]
    files: tuple[str, ...]
    named: bool  # by COMPOSE_FILE, rather than the default compose.yml
    problems: tuple[str, ...]


def _plan(blobs: _Blobs, ref: str, app_env: AppEnv | None) -> _Plan:
    problems: list[str] = []
    env_from, values = "", {}
    if app_env is not None and app_env.values is not None:
        env_from, values = app_env.path, dict(app_env.values)
    else:
        if app_env is not None:
            problems.append(f"the app env could not be read ({app_env.problem}); {ENV_SAMPLE} at {ref} used instead")
        sample = blobs.get(f"{ref}:{ENV_SAMPLE}")
        if sample is not _MISSING:
            text = _decoded(sample, ENV_SAMPLE, ref, problems)
            if text is not None:
                env_from, values = ENV_SAMPLE, parse_env(text)
    named = compose_files(values)
    files: list[str] = []
    for name in named[:MAX_COMPOSE_FILES]:
        path = _plain_path(name)
        if path is None:
            problems.append(f"COMPOSE_FILE names {name[:80]!r}, which is not a file of the recipe; skipped")
        elif path not in files:
            files.append(path)
    if len(named) > MAX_COMPOSE_FILES:
        problems.append(f"COMPOSE_FILE names {len(named)} files; only the first {MAX_COMPOSE_FILES} were read")
    if not named:
        files = [next((b for b in BASE_FILES if blobs.get(f"{ref}:{b}") is not _MISSING), BASE_FILES[0])]
    return _Plan(ref, env_from, values, tuple(files), bool(named), tuple(problems))


def _build(blobs: _Blobs, recipe: str, plan: _Plan) -> EffectiveCompose:
    problems = list(plan.problems)
    services: dict[str, _Service] = {}
    top: dict[str, Any] = {}
    read: list[str] = []
    for name in plan.files:
        where = f"named in COMPOSE_FILE in {plan.env_from}" if plan.named else "the default compose file"
        blob = blobs.get(f"{plan.ref}:{name}")
        if blob is _MISSING:
            problems.append(f"{name} ({where}) is missing at {plan.ref}")
            continue
        text = _decoded(blob, name, plan.ref, problems)
        if text is None or isinstance(blob, _Absent):
            continue
        try:
            data = blobs.yaml(blob, text)
        except ConfigError as exc:
            problems.append(f"{name} at {plan.ref}: {exc}")
            continue
        raw_services = data.get("services", {}) if isinstance(data, dict) else None
        if not isinstance(raw_services, dict):
            problems.append(f"{name} at {plan.ref}: no services mapping")
            continue
        read.append(name)
        for service_name, raw in raw_services.items():
            if not isinstance(raw, dict | None):
                problems.append(f"{name} at {plan.ref}: service {str(service_name)[:60]!r} is not a mapping")
                continue
            body = _normalised(_interpolated(raw or {}, plan.values.get))
            svc = services.setdefault(str(service_name), _Service())
            svc.body = _merge(svc.body, body, ())
            svc.origin.update(dict.fromkeys((str(k) for k in body), name))
            svc.labels.update({k: Sourced(v, name) for k, v in _labels_of(body).items()})
            svc.files.append(name)
        for key in _TOP_MERGED:
            if isinstance(data.get(key), dict):
                top[key] = _merge(top.get(key, {}), _interpolated(data[key], plan.values.get), (key,))
    return EffectiveCompose(
        recipe,
        plan.ref,
        plan.env_from,
        tuple(read),
        {n: ServiceView(n, s.body, s.labels, s.origin, tuple(s.files)) for n, s in services.items()},
        top,
        tuple(problems),
    )


def _phase_one(ref: str) -> list[str]:
    return [f"{ref}:{name}" for name in (*BASE_FILES, ENV_SAMPLE)]


def _has_base(blobs: _Blobs, ref: str) -> bool:
    return any(blobs.get(f"{ref}:{name}") is not _MISSING for name in BASE_FILES)


def read_effective(clone: Path, ref: str | None, recipe: str, app_env: AppEnv | None = None) -> EffectiveCompose | None:
    """The recipe's effective compose at ``ref`` (a release tag), else at the clone's HEAD, with the run's app
    env when given; None when git cannot read the clone or neither ref has a compose file."""
    refs = [r for r in dict.fromkeys((ref, "HEAD")) if r and _plain_ref(r)]
    blobs = _Blobs(clone)
    try:
        blobs.fetch([spec for r in refs for spec in _phase_one(r)])
        at = next((r for r in refs if _has_base(blobs, r)), None)
        if at is None:
            return None
        plan = _plan(blobs, at, app_env)
        blobs.fetch([f"{at}:{name}" for name in plan.files])
    except _GitFailed:
        return None
    return _build(blobs, recipe, plan)


def read_at_refs(
    clone: Path, refs: Sequence[str], recipe: str, app_env: AppEnv | None = None
) -> dict[str, list[EffectiveCompose]]:
    """Every rendering of the recipe at each ref that has a compose file: with the app env (when given) and
    with the ref's own ``.env.sample`` defaults. Raises ``OSError`` when git cannot read the clone."""
    refs = [r for r in dict.fromkeys(refs) if _plain_ref(r)]
    blobs = _Blobs(clone)
    try:
        blobs.fetch([spec for r in refs for spec in _phase_one(r)])
        plans: dict[str, list[_Plan]] = {}
        for ref in (r for r in refs if _has_base(blobs, r)):
            envs = [app_env, None] if app_env is not None else [None]
            plans[ref] = list({(p.env_from, p.files): p for p in (_plan(blobs, ref, e) for e in envs)}.values())
        blobs.fetch([f"{p.ref}:{name}" for ps in plans.values() for p in ps for name in p.files])
    except _GitFailed as exc:
        raise OSError(f"git cannot read {clone.name}: {exc}") from exc
    return {ref: [_build(blobs, recipe, p) for p in ps] for ref, ps in plans.items()}
