"""The knowledge base of failure signatures, as data (Jenkins Build Failure Analyzer style).

Signatures live in YAML files: the package ships ``bot/kb/signatures/*.yaml`` and operators add
their own directories (``knowledge.dirs``). A bad file or a bad signature is reported and skipped,
never fatal. The knowledge base's version is a hash of every file it loaded, so a verdict can say
which rules decided it; reading the files gives the version (:func:`read_kb`), parsing them (YAML, RE2)
waits until a verdict is to be decided (:meth:`KbFiles.load`), so an answer from stored verdicts never parses.

Every pattern is compiled for RE2 (:func:`bot.linear_regex.compile_signature`): matching costs time
linear in the failure text whatever the pattern, so a signature cannot stall ingest; one that RE2 cannot
run (a backreference, lookaround, …) is reported with the reason and skipped, like any bad signature.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.errors import BadInput
from bot.linear_regex import LinearPattern, PatternRefused, compile_signature
from bot.model.records import Category, EvidenceKind

CATEGORIES = tuple(Category)
SIGNATURE_CATEGORIES = tuple(c for c in Category if c is not Category.UNKNOWN)
DEFAULT_WEIGHT = 0.55
# Folded into the knowledge base's version: bump it when the engine's rules or wording change, so
# stored verdicts are decided again instead of being served with the old reasons. 3: verdicts name
# the rule that decided them. 4: the registry probe's rule (registry_probe). 5: what a verdict rests
# on (its strength); a failure that repeats with no named cause is `unknown`; red the same way across
# sweeps is evidence. 6: a red that tested nothing, then green alone, is infra (untested_green_alone),
# not a flake under load.
ENGINE_REVISION = "6"
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")
SHIPPED = Path(__file__).resolve().parent  # nonfatal.yaml and signatures/*.yaml (package data)


class SignatureError(BadInput, ValueError):
    """One signature (or file) that cannot be used, with where and why."""


@dataclass(frozen=True)
class Matcher:
    """One way a signature can match: a regex over failure text, or a literal (+ regex) over log lines."""

    where: EvidenceKind  # FAILURE (failure text) or LOG (log lines)
    regex: LinearPattern | None
    contains: str | None = None

    def matches(self, text: str) -> bool:
        if self.contains is not None and self.contains not in text:
            return False
        return self.regex is None or self.regex.search(text) is not None


@dataclass(frozen=True)
class Signature:
    id: str
    category: Category
    description: str
    matchers: tuple[Matcher, ...]
    tiers: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()
    weight: float = DEFAULT_WEIGHT
    examples_match: tuple[str, ...] = ()
    examples_no_match: tuple[str, ...] = ()
    origin: str = ""

    def applies_to(self, tier: str | None, source: str | None) -> bool:
        return (not self.tiers or tier in self.tiers) and (not self.sources or source in self.sources)

    def matches_failure(self, text: str) -> bool:
        return any(m.where is EvidenceKind.FAILURE and m.matches(text) for m in self.matchers)

    def matches_log_line(self, line: str) -> bool:
        return any(m.where is EvidenceKind.LOG and m.matches(line) for m in self.matchers)

    def matches_any(self, text: str) -> bool:
        return any(m.matches(text) for m in self.matchers)

    @property
    def log_needles(self) -> list[str]:
        return [m.contains for m in self.matchers if m.where is EvidenceKind.LOG and m.contains]


@dataclass(frozen=True)
class NonFatal:
    """How a log says a step's failure does not matter: such lines are never root-cause evidence."""

    line_markers: tuple[str, ...]  # a line containing one of these is non-fatal itself
    declarations: tuple[str, ...]  # a line after a hit containing one of these makes the hit non-fatal
    window: int = 3

    def is_nonfatal(self, line: str, following: Iterable[str]) -> bool:
        if any(m in line for m in self.line_markers):
            return True
        return any(any(d in later for d in self.declarations) for later in list(following)[: self.window])


@dataclass
class KnowledgeBase:
    """The rules in force. ``problems``: what was skipped and why (unreadable files and directories
    first, then invalid files and signatures)."""

    signatures: list[Signature]
    nonfatal: NonFatal
    version: str
    problems: list[str] = field(default_factory=list)

    def log_needles(self) -> list[str]:
        return sorted({n for s in self.signatures for n in s.log_needles})


def _text_list(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise SignatureError(f"{where}: expected a string or a list of strings")


def _compile(pattern: Any, where: str) -> LinearPattern:
    if not isinstance(pattern, str) or not pattern:
        raise SignatureError(f"{where}: expected a regular expression string")
    compiled = compile_signature(pattern)
    if isinstance(compiled, PatternRefused):
        raise SignatureError(f"{where}: {compiled.reason}")
    return compiled


def _matcher(raw: Any, where: str) -> Matcher:
    if not isinstance(raw, dict) or len({"failure", "log"} & set(raw)) != 1:
        raise SignatureError(f"{where}: expected {{failure: REGEX}} or {{log: LITERAL, regex: REGEX}}")
    unknown = set(raw) - {"failure", "log", "regex"}
    if unknown:
        raise SignatureError(f"{where}: unknown keys {sorted(unknown)}")
    if "failure" in raw:
        return Matcher(EvidenceKind.FAILURE, _compile(raw["failure"], f"{where}.failure"))
    if not isinstance(raw["log"], str) or not raw["log"]:
        raise SignatureError(f"{where}.log: expected the literal text a matching log line contains")
    regex = _compile(raw["regex"], f"{where}.regex") if raw.get("regex") else None
    return Matcher(EvidenceKind.LOG, regex, contains=raw["log"])


def parse_signature(raw: Any, origin: str) -> Signature:
    """Validate one signature mapping; raise :class:`SignatureError` naming what is wrong."""
    if not isinstance(raw, dict):
        raise SignatureError(f"{origin}: expected a mapping")
    sid = raw.get("id")
    if not isinstance(sid, str) or not _ID.match(sid):
        raise SignatureError(f"{origin}: id: expected lowercase letters, digits and '-', got {sid!r}")
    where = f"{origin}: {sid}"
    known = {"id", "category", "description", "match", "tiers", "sources", "weight", "examples"}
    if set(raw) - known:
        raise SignatureError(f"{where}: unknown keys {sorted(set(raw) - known)}")
    category = raw.get("category")
    if category not in SIGNATURE_CATEGORIES:
        raise SignatureError(f"{where}: category: expected one of {', '.join(SIGNATURE_CATEGORIES)}, got {category!r}")
    description = raw.get("description")
    if not isinstance(description, str) or not description.strip():
        raise SignatureError(f"{where}: description: expected the text shown to operators")
    matches = raw.get("match")
    if not isinstance(matches, list) or not matches:
        raise SignatureError(f"{where}: match: expected a non-empty list")
    matchers = tuple(_matcher(m, f"{where}: match[{i}]") for i, m in enumerate(matches))
    weight = raw.get("weight", DEFAULT_WEIGHT)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 < weight < 1:
        raise SignatureError(f"{where}: weight: expected a number between 0 and 1")
    examples = raw.get("examples")
    if not isinstance(examples, dict):
        raise SignatureError(f"{where}: examples: expected {{match: [...], no_match: [...]}}")
    must, must_not = (_text_list(examples.get(k), f"{where}: examples.{k}") for k in ("match", "no_match"))
    if not must or not must_not:
        raise SignatureError(f"{where}: examples: at least one text it must match and one it must not")
    return Signature(
        id=sid,
        category=Category(category),
        description=description.strip(),
        matchers=matchers,
        tiers=frozenset(_text_list(raw.get("tiers"), f"{where}: tiers")),
        sources=frozenset(_text_list(raw.get("sources"), f"{where}: sources")),
        weight=float(weight),
        examples_match=must,
        examples_no_match=must_not,
        origin=origin,
    )


def _yaml(text: str) -> Any:
    """One YAML document as data, with libyaml when PyYAML has it (the pure-Python parser took ~30 ms
    for the shipped files, libyaml ~3 ms; both build the same data). A file libyaml refuses is read
    again by the pure-Python parser, whose message (it quotes the line) operators have been shown.
    PyYAML is imported here, on the first parse: its import costs more than a whole answer from stored verdicts."""
    import yaml

    try:
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader
    except yaml.YAMLError:
        pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SignatureError(f"not valid YAML ({exc})") from exc


def _load_file(text: str, origin: str, problems: list[str]) -> list[Signature]:
    try:
        data = _yaml(text)
    except SignatureError as exc:
        problems.append(f"{origin}: {exc}; file skipped")
        return []
    items = data.get("signatures") if isinstance(data, dict) else None
    if not isinstance(items, list):
        problems.append(f"{origin}: expected a mapping with a 'signatures' list; file skipped")
        return []
    found: list[Signature] = []
    for i, raw in enumerate(items):
        try:
            found.append(parse_signature(raw, f"{origin}[{i}]"))
        except SignatureError as exc:
            problems.append(f"{exc}; signature skipped")
    return found


def _nonfatal(text: str) -> NonFatal:
    data = _yaml(text)
    return NonFatal(
        line_markers=_text_list(data.get("line_markers"), "nonfatal.line_markers"),
        declarations=_text_list(data.get("declarations"), "nonfatal.declarations"),
        window=int(data.get("window", 3)),
    )


def load_nonfatal() -> NonFatal:
    """Only the non-fatal rules (ingest needs them; it does not need the signatures)."""
    return _nonfatal((SHIPPED / "nonfatal.yaml").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class KbFiles:
    """The knowledge base's files as read, with the version they make: enough to tell whether a stored
    verdict is current. :meth:`load` parses these very texts, so the version cannot drift from the rules."""

    nonfatal: str
    sources: tuple[tuple[str, str], ...]  # (origin, text) in load order
    version: str
    problems: tuple[str, ...]  # unreadable files and directories

    def load(self) -> KnowledgeBase:
        problems = list(self.problems)
        by_id: dict[str, Signature] = {}
        for origin, text in self.sources:
            for sig in _load_file(text, origin, problems):
                by_id[sig.id] = sig
        return KnowledgeBase(list(by_id.values()), _nonfatal(self.nonfatal), self.version, problems)


def read_kb(extra_dirs: Iterable[Path] = ()) -> KbFiles:
    """The shipped signature files plus every ``*.yaml``/``*.yml`` in ``extra_dirs``, read but not parsed."""
    digest = hashlib.sha256(f"engine {ENGINE_REVISION}\0".encode())
    problems: list[str] = []
    nonfatal_text = (SHIPPED / "nonfatal.yaml").read_text(encoding="utf-8")
    digest.update(nonfatal_text.encode())
    sources: list[tuple[str, str]] = []
    for entry in sorted((SHIPPED / "signatures").iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".yaml", ".yml")):
            sources.append((f"builtin:{entry.name}", entry.read_text(encoding="utf-8")))
    for directory in extra_dirs:
        if not directory.is_dir():
            problems.append(f"{directory}: knowledge directory not found; skipped")
            continue
        for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
            try:
                sources.append((str(path), path.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(f"{path}: unreadable ({exc}); file skipped")
    for origin, text in sources:
        digest.update(origin.encode() + b"\0" + text.encode() + b"\0")
    return KbFiles(nonfatal_text, tuple(sources), "kb-" + digest.hexdigest()[:12], tuple(problems))


def load_kb(extra_dirs: Iterable[Path] = ()) -> KnowledgeBase:
    """The shipped signatures plus every ``*.yaml``/``*.yml`` in ``extra_dirs`` (later ids win)."""
    return read_kb(extra_dirs).load()
