"""Reading world.yaml, the default sample world's data, into the types of demo.sample.model.

The file is written by hand, so the reader is strict and says where: an unknown key (with the nearest
known one), a missing key, a value of the wrong kind, an unknown recipe, service, tier or category, a run
id used twice, or a key written twice in one mapping (YAML would silently keep the last) is a
WorldFileError that names the key path, as in `recipes.gitea.services.db.port: expected an integer, got
'3306x'`. The keys of recipes, services, releases, changes, faults and styles are the field names of
their dataclasses. Times in the file are offsets from the first sweep's start, so reading takes that start.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeVar, get_args

import yaml
from yaml.nodes import MappingNode, ScalarNode

from demo.sample.model import TIERS, Category, Change, RecipeSpec, Release, ResultsStyle, RunFaults, Service, TimeFormat

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

WORLD_FILE = Path(__file__).with_name("world.yaml")
GREEN = "green"  # what the file writes for a run that passes (its `expect` is None)

_CATEGORIES: dict[str, Category] = {c: c for c in get_args(Category)}
_TIME_FORMATS: dict[str, TimeFormat] = {f: f for f in get_args(TimeFormat)}
_OFFSET = re.compile(r"([+-])(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?")
_MERGE_TAG = "tag:yaml.org,2002:merge"
_EXTRAS_KEYS = ("faults", "tier_env", "style")  # what a run can have beyond the schedule (RunExtras)
_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: a tenth of the time
T = TypeVar("T")


class WorldFileError(ValueError):
    """world.yaml does not describe a sample world; the message says where and why."""


@dataclass(frozen=True)
class RunExtras:
    """What a run has beyond its place in the schedule: a harness fault, env for a tier, results.json's layout."""

    faults: RunFaults = field(default_factory=RunFaults)
    tier_env: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    style: ResultsStyle = field(default_factory=ResultsStyle)


@dataclass(frozen=True)
class PlannedRun:
    """A run the file asks for, before the schedule gives it its times; `expect` None is a green run."""

    recipe: str
    run_id: str
    expect: Category | None
    extras: RunExtras = field(default_factory=RunExtras)
    pr: int | None = None


@dataclass(frozen=True)
class SweepPlan:
    """One sweep: when it started, its runs in the order they start (the batch, then the tail as the batch drains)."""

    start: datetime
    batch: tuple[PlannedRun, ...]
    tail: tuple[PlannedRun, ...]


@dataclass(frozen=True)
class WorldData:
    """Everything world.yaml says, with its times made absolute."""

    recipes: tuple[RecipeSpec, ...]
    sweeps: tuple[SweepPlan, ...]
    pr_run: PlannedRun
    reruns: tuple[PlannedRun, ...]
    verdicts: Mapping[str, Category]
    withdrawn_images: Mapping[str, datetime]
    overlays_added: Mapping[str, datetime]


class _Loader(_Base):  # type: ignore[valid-type,misc]
    """YAML's safe loader, refusing a key written twice in one mapping.

    A mapping's own keys are checked once, before merges (``<<: *template``) add theirs: a key of its own
    that overrides a merged one is what merges are for."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._checked: set[int] = set()

    def flatten_mapping(self, node: MappingNode) -> None:
        if id(node) not in self._checked:
            self._checked.add(id(node))
            seen: set[tuple[str, str]] = set()
            for key, _ in node.value:
                if key.tag == _MERGE_TAG or not isinstance(key, ScalarNode):
                    continue
                if (key.tag, key.value) in seen:
                    raise WorldFileError(f"line {key.start_mark.line + 1}: key {key.value!r} is written twice")
                seen.add((key.tag, key.value))
        super().flatten_mapping(node)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class _At:
    """A value of the file and its key path, so that every complaint says where."""

    value: object
    path: str

    def fail(self, problem: str) -> NoReturn:
        raise WorldFileError(f"{self.path or 'world file'}: {problem}")

    def expected(self, what: str) -> NoReturn:
        hint = " (quote it to make it text)" if what == "text" and isinstance(self.value, int | float) else ""
        self.fail(f"expected {what}, got {_shown(self.value)}{hint}")

    def _entries(self) -> list[tuple[object, _At]]:
        if not isinstance(self.value, dict):
            self.expected("a mapping")
        return [(key, _At(value, f"{self.path}.{key}" if self.path else str(key))) for key, value in self.value.items()]

    def keyed(self) -> list[tuple[str, _At]]:
        """A mapping whose keys are names the writer chooses, in file order."""
        entries: list[tuple[str, _At]] = []
        for key, at in self._entries():
            if not isinstance(key, str):
                at.fail("expected a name as key")
            entries.append((key, at))
        return entries

    def numbered(self) -> list[tuple[int, _At]]:
        """A mapping whose keys are numbers (PRs), in file order."""
        entries: list[tuple[int, _At]] = []
        for key, at in self._entries():
            if type(key) is not int:
                at.fail("expected a number as key")
            entries.append((key, at))
        return entries

    def fields(self, required: Collection[str], optional: Collection[str] = ()) -> dict[str, _At]:
        """A mapping of known keys: every required one there, and no key but these."""
        found = dict(self.keyed())
        known = [*required, *optional]
        for key, at in found.items():
            if key not in known:
                near = difflib.get_close_matches(key, known, n=1)
                at.fail(
                    f"unknown key; did you mean {near[0]!r}?" if near else f"unknown key; known: {', '.join(known)}"
                )
        for key in required:
            if key not in found:
                self.fail(f"missing key {key!r}")
        return found

    def items(self) -> list[_At]:
        if not isinstance(self.value, list):
            self.expected("a list")
        return [_At(value, f"{self.path}[{index}]") for index, value in enumerate(self.value)]

    def text(self) -> str:
        if not isinstance(self.value, str):
            self.expected("text")
        return self.value

    def integer(self) -> int:
        if type(self.value) is not int:
            self.expected("an integer")
        return self.value

    def flag(self) -> bool:
        if not isinstance(self.value, bool):
            self.expected("true or false")
        return self.value

    def texts(self) -> tuple[str, ...]:
        return tuple(at.text() for at in self.items())

    def pairs(self) -> tuple[tuple[str, str], ...]:
        """A mapping of text to text, in file order (compose labels, volumes)."""
        return tuple((key, at.text()) for key, at in self.keyed())

    def text_map(self) -> dict[str, str]:
        return dict(self.pairs())

    def one_of(self, choices: Collection[str], what: str) -> str:
        value = self.text()
        if value not in choices:
            near = difflib.get_close_matches(value, choices, n=1)
            self.fail(
                f"unknown {what} {value!r}; "
                + (f"did you mean {near[0]!r}?" if near else f"one of {', '.join(choices)}")
            )
        return value

    def offset(self) -> timedelta:
        """`-300d`, `+10d`, `+3d14h`, `+50m`: an offset from the first sweep's start."""
        match = _OFFSET.fullmatch(self.value) if isinstance(self.value, str) else None
        if match is None or not any(match.groups()[1:]):
            self.expected("an offset from the first sweep's start, like -300d or +3d14h")
        sign, days, hours, minutes = match.groups()
        delta = timedelta(days=int(days or 0), hours=int(hours or 0), minutes=int(minutes or 0))
        return -delta if sign == "-" else delta

    def category(self) -> Category:
        return _CATEGORIES[self.one_of(_CATEGORIES, "verdict category")]

    def expect(self) -> Category | None:
        """A run's expected verdict: a category, or `green`."""
        value = self.one_of([GREEN, *_CATEGORIES], "verdict category")
        return None if value == GREEN else _CATEGORIES[value]

    def tier(self) -> str:
        return self.one_of(TIERS, "tier")


def _opt(found: Mapping[str, _At], key: str, read: Callable[[_At], T], default: T) -> T:
    """An optional key's value, or `default` when the file leaves it out."""
    return read(found[key]) if key in found else default


def _keys(cls: type[DataclassInstance], skip: Collection[str] = ()) -> tuple[list[str], list[str]]:
    """The (required, optional) file keys of a dataclass: its field names, those with defaults optional."""
    keys = [f for f in dataclasses.fields(cls) if f.name not in skip]
    required = [f.name for f in keys if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    return required, [f.name for f in keys if f.name not in required]


def _service(name: str, at: _At) -> Service:
    found = at.fields(*_keys(Service, skip={"name"}))
    return Service(
        name,
        found["image"].text(),
        port=_opt(found, "port", _At.integer, None),
        env=_opt(found, "env", _At.texts, ()),
        labels=_opt(found, "labels", _At.pairs, ()),
        depends_on=_opt(found, "depends_on", _At.texts, ()),
        volumes=_opt(found, "volumes", _At.pairs, ()),
        file=_opt(found, "file", _At.text, Service.file),
    )


def _change(at: _At, services: Collection[str]) -> Change:
    found = at.fields(*_keys(Change))
    service_env: dict[str, tuple[str, ...]] = {}
    for service, names in found["service_env"].keyed() if "service_env" in found else ():
        if service not in services:
            names.fail(f"no such service in this recipe; its services: {', '.join(services)}")
        service_env[service] = names.texts()
    return Change(
        env_sample=_opt(found, "env_sample", _At.text_map, {}),
        service_env=service_env,
        traefik_port=_opt(found, "traefik_port", _At.integer, None),
        note=_opt(found, "note", _At.text, ""),
    )


def _release(at: _At, first_sweep: datetime, services: Collection[str]) -> Release:
    found = at.fields(*_keys(Release))
    tag = found["tag"].text()
    if "+" not in tag:
        found["tag"].expected("a tag <recipe semver>+<upstream>")
    change = _opt(found, "change", lambda a: _change(a, services), Change())
    return Release(tag, first_sweep + found["released"].offset(), change)


def _recipe(name: str, at: _At, first_sweep: datetime) -> RecipeSpec:
    found = at.fields(*_keys(RecipeSpec, skip={"name"}))
    services = tuple(_service(n, a) for n, a in found["services"].keyed())
    if not services:
        found["services"].fail("a recipe needs a service")
    names = [s.name for s in services]
    releases = tuple(_release(a, first_sweep, names) for a in found["releases"].items())
    if not releases:
        found["releases"].fail("a recipe needs a release")
    for index, (earlier, later) in enumerate(pairwise(releases), 1):
        if later.released <= earlier.released:
            found["releases"].items()[index].fail(f"released before {earlier.tag}; releases go oldest first")
    prs = {number: _change(a, names) for number, a in found["prs"].numbered()} if "prs" in found else {}
    return RecipeSpec(
        name,
        services,
        releases,
        env_sample=_opt(found, "env_sample", _At.text_map, {}),
        minutes=_opt(found, "minutes", _At.integer, RecipeSpec.minutes),
        prs=prs,
        options=tuple(_service(n, a) for n, a in found["options"].keyed()) if "options" in found else (),
    )


def _faults(at: _At) -> RunFaults:
    found = at.fields(*_keys(RunFaults))
    return RunFaults(_opt(found, "killed_during", _At.tier, None), _opt(found, "dies_after", _At.tier, None))


def _time_format(at: _At) -> TimeFormat:
    return _TIME_FORMATS[at.one_of(_TIME_FORMATS, "time format")]


def _style(at: _At) -> ResultsStyle:
    found = at.fields(*_keys(ResultsStyle))
    return ResultsStyle(
        _opt(found, "time_format", _time_format, ResultsStyle.time_format),
        _opt(found, "rungs_as_list", _At.flag, ResultsStyle.rungs_as_list),
    )


def _extras(found: Mapping[str, _At]) -> RunExtras:
    tier_env: dict[str, dict[str, str]] = {}
    for tier, env in found["tier_env"].keyed() if "tier_env" in found else ():
        if tier not in TIERS:
            env.fail(f"unknown tier; one of {', '.join(TIERS)}")
        tier_env[tier] = env.text_map()
    return RunExtras(
        _opt(found, "faults", _faults, RunFaults()), tier_env, _opt(found, "style", _style, ResultsStyle())
    )


class _Reader:
    """The cross-references of one file: recipe names that must exist, run ids that must not repeat."""

    def __init__(self, recipes: Mapping[str, RecipeSpec]) -> None:
        self.recipes = recipes
        self.run_ids: dict[str, str] = {}

    def recipe(self, at: _At) -> str:
        return at.one_of(self.recipes, "recipe")

    def run_id(self, at: _At) -> str:
        run_id = at.text()
        if run_id in self.run_ids:
            at.fail(f"run id {run_id!r} is already used at {self.run_ids[run_id]}")
        self.run_ids[run_id] = at.path
        return run_id

    def run(
        self, at: _At, required: Collection[str] = (), optional: Collection[str] = ()
    ) -> tuple[PlannedRun, dict[str, _At]]:
        """A run's recipe, id and expected verdict, and the other keys the caller reads."""
        found = at.fields(("recipe", "run_id", "expect", *required), optional)
        run = PlannedRun(self.recipe(found["recipe"]), self.run_id(found["run_id"]), found["expect"].expect())
        return run, found

    def sweeps(self, sweeps: _At, table: _At, starts: Sequence[datetime]) -> tuple[SweepPlan, ...]:
        plans = sweeps.items()
        if len(plans) != len(starts):
            sweeps.fail(f"expected {len(starts)} sweeps, as many as the schedule makes")
        columns: list[list[PlannedRun]] = [[] for _ in plans]
        for recipe, row in table.keyed():
            self.recipe(_At(recipe, row.path))
            found = row.fields(("ids", "expect"))
            ids, expects = found["ids"].items(), found["expect"].items()
            for at in (found["ids"], found["expect"]):
                if len(at.items()) != len(plans):
                    at.fail(f"expected {len(plans)} entries, one per sweep")
            for column, id_at, expect_at in zip(columns, ids, expects, strict=True):
                column.append(PlannedRun(recipe, self.run_id(id_at), expect_at.expect()))
        return tuple(self._sweep(at, start, runs) for at, start, runs in zip(plans, starts, columns, strict=True))

    def _sweep(self, at: _At, start: datetime, runs: list[PlannedRun]) -> SweepPlan:
        found = at.fields((), ("tail", "reversed", "extra_runs", "tweaks"))
        for extra_at in found["extra_runs"].items() if "extra_runs" in found else ():
            run, extra = self.run(extra_at, ("after",), _EXTRAS_KEYS)
            after = self.recipe(extra["after"])
            position = next((i for i, r in enumerate(runs) if r.recipe == after), None)
            if position is None:
                extra["after"].fail(f"{after} has no run in this sweep")
            runs.insert(position + 1, replace(run, extras=_extras(extra)))
        if _opt(found, "reversed", _At.flag, False):
            runs.reverse()
        tweaks: dict[str, RunExtras] = {}
        for recipe, tweak in found["tweaks"].keyed() if "tweaks" in found else ():
            self.recipe(_At(recipe, tweak.path))
            tweaks[recipe] = _extras(tweak.fields((), _EXTRAS_KEYS))
        runs = [replace(r, extras=tweaks[r.recipe]) if r.recipe in tweaks else r for r in runs]
        tail = {self.recipe(a) for a in found["tail"].items()} if "tail" in found else set()
        batch = tuple(r for r in runs if r.recipe not in tail)
        return SweepPlan(start, batch, tuple(r for r in runs if r.recipe in tail))

    def pr_run(self, at: _At) -> PlannedRun:
        run, found = self.run(at, ("pr",))
        pr = found["pr"].integer()
        if pr not in self.recipes[run.recipe].prs:
            found["pr"].fail(f"{run.recipe} has no PR {pr} (see recipes.{run.recipe}.prs)")
        return replace(run, pr=pr)


def _moments(at: _At, first_sweep: datetime) -> dict[str, datetime]:
    return {key: first_sweep + value.offset() for key, value in at.keyed()}


def parse_world(text: str, sweep_starts: Sequence[datetime]) -> WorldData:
    """The world a world file's text describes: one sweep per start, offsets counted from the first."""
    loader = _Loader(text)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        raise WorldFileError(f"not YAML: {exc}") from exc
    finally:
        loader.dispose()
    top = _At(data, "").fields(
        ("recipes", "sweeps", "sweep_runs", "pr_run", "reruns", "verdicts", "withdrawn_images", "overlays_added"),
        ("templates",),  # anchors only
    )
    first_sweep = sweep_starts[0]
    recipes = tuple(_recipe(name, at, first_sweep) for name, at in top["recipes"].keyed())
    reader = _Reader({r.name: r for r in recipes})
    sweeps = reader.sweeps(top["sweeps"], top["sweep_runs"], sweep_starts)
    return WorldData(
        recipes=recipes,
        sweeps=sweeps,
        pr_run=reader.pr_run(top["pr_run"]),
        reruns=tuple(reader.run(at)[0] for at in top["reruns"].items()),
        verdicts={reader.recipe(_At(name, at.path)): at.category() for name, at in top["verdicts"].keyed()},
        withdrawn_images=_moments(top["withdrawn_images"], first_sweep),
        overlays_added=_moments(top["overlays_added"], first_sweep),
    )


def load_world(sweep_starts: Sequence[datetime], path: Path = WORLD_FILE) -> WorldData:
    """world.yaml (or another world file) read; a WorldFileError names the file and the key path."""
    try:
        return parse_world(path.read_text(encoding="utf-8"), sweep_starts)
    except WorldFileError as exc:
        raise WorldFileError(f"{path.name}: {exc}") from None
