"""The sample world's types: recipes, their releases, the runs cc-ci made of them, and the world.

Each run records the verdict category a correct bot should reach for it (`expect`), which the
tests of the bot can check against. demo/sample/scenarios.py builds the default world of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal

from demo.sample.clock import iso_z

TIERS: Final = ("install", "upgrade", "backup", "restore", "custom")
# Where the tiers sit in a run's progress (0..1); the runner stamps its log by it and the world
# uses it to tell which tiers ran while other runs were on the node.
FIRST_TIER_AT: Final = 0.2
TIER_SPAN: Final = 0.15


def tier_progress(index: int) -> tuple[float, float]:
    """The (start, end) progress of the tier at `index` in TIERS."""
    start = FIRST_TIER_AT + TIER_SPAN * index
    return start, start + TIER_SPAN


Category = Literal["flake", "recipe-defect", "stale-test", "upstream-defect", "infra", "unknown"]
RunKind = Literal["sweep", "isolation", "pr"]
TimeFormat = Literal["iso", "compact"]


@dataclass(frozen=True)
class Service:
    """One compose service; `{upstream}` in `image` becomes the release's upstream version.

    `file` other than compose.yml: an override file (compose.postgres.yml) that `.env.sample`'s
    COMPOSE_FILE switches on, as Co-op Cloud keeps a database."""

    name: str
    image: str
    port: int | None = None
    env: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    depends_on: tuple[str, ...] = ()
    volumes: tuple[tuple[str, str], ...] = ()
    file: str = "compose.yml"


@dataclass(frozen=True)
class Change:
    """What a release or a PR changes in the recipe (applied cumulatively, release by release)."""

    env_sample: Mapping[str, str] = field(default_factory=dict)
    service_env: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    traefik_port: int | None = None
    note: str = ""


@dataclass(frozen=True)
class Release:
    """A release tag (`<recipe semver>+<upstream>`) and when it was cut."""

    tag: str
    released: datetime
    change: Change = field(default_factory=Change)

    @property
    def upstream(self) -> str:
        return self.tag.split("+", 1)[1]


@dataclass(frozen=True)
class RecipeSpec:
    """A recipe: services, `.env.sample` defaults, releases (oldest first) and open PRs.

    `options`: services in override files whose COMPOSE_FILE line `.env.sample` leaves commented out."""

    name: str
    services: tuple[Service, ...]
    releases: tuple[Release, ...]
    env_sample: Mapping[str, str] = field(default_factory=dict)
    minutes: int = 15
    prs: Mapping[int, Change] = field(default_factory=dict)
    options: tuple[Service, ...] = ()

    def latest_at(self, moment: datetime) -> Release:
        """The newest release cut at or before `moment` (what a sweep then would test)."""
        cut = [r for r in self.releases if r.released <= moment]
        if not cut:
            raise ValueError(f"{self.name} has no release before {iso_z(moment)}")
        return cut[-1]


@dataclass(frozen=True)
class RunFaults:
    """Harness-level failures, named by tier: they happen to the runner, not in the tests."""

    killed_during: str | None = None
    dies_after: str | None = None


@dataclass(frozen=True)
class ResultsStyle:
    """Variations of results.json that the layout allows, to keep readers honest."""

    time_format: TimeFormat = "iso"
    rungs_as_list: bool = False


@dataclass(frozen=True)
class RunSpec:
    """One cc-ci run; `expect` is the verdict category for a red run, None when it is green."""

    run_id: str
    recipe: str
    version: str
    kind: RunKind
    started: datetime
    finished: datetime
    load: bool = False
    pr: int | None = None
    ref: str | None = None
    sweep: int | None = None
    expect: Category | None = None
    faults: RunFaults = field(default_factory=RunFaults)
    tier_env: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    style: ResultsStyle = field(default_factory=ResultsStyle)

    def overlaps(self, other: RunSpec) -> bool:
        return self.started < other.finished and other.started < self.finished


@dataclass(frozen=True)
class World:
    """The whole sample: recipes, runs, and the outside state the runs saw."""

    now: datetime
    recipes: tuple[RecipeSpec, ...]
    runs: tuple[RunSpec, ...]
    sweeps: tuple[datetime, ...]
    withdrawn_images: Mapping[str, datetime]
    overlays_added: Mapping[str, datetime]
    verdicts: Mapping[str, Category]

    def recipe(self, name: str) -> RecipeSpec:
        return next(r for r in self.recipes if r.name == name)

    def outside_state(self) -> dict[str, dict[str, str]]:
        """The registry and cc-ci checkout history, as the runner and suites read them."""
        return {
            "withdrawn_images": {k: iso_z(v) for k, v in self.withdrawn_images.items()},
            "overlays_added": {k: iso_z(v) for k, v in self.overlays_added.items()},
        }
