"""Generate the sample cc-ci data: recipe repos, a runs dir and a warm dir.

Every run of the world goes through the stand-in runner, so the JUnit files are pytest's own
and the logs carry real tracebacks. Runs are independent, so they are spread over a few
worker processes; each worker keeps pytest imported across the runs it gets.

    python -m demo.sample.generate OUT_DIR [--now 2026-06-18T12:00:00Z]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from demo.sample.clock import ScenarioClock, compact, parse_iso
from demo.sample.model import Category, RecipeSpec, RunKind, RunSpec, World
from demo.sample.recipes import build_recipe_repo, tag_commit
from demo.sample.results import is_green
from demo.sample.scenarios import default_world
from demo.sample.standin_runner import RunOutcome, RunRequest, run_recipe


@dataclass(frozen=True)
class GeneratedRun:
    """A generated run as tests of the bot need to know it; `expected_category` None means green."""

    run_id: str
    recipe: str
    version: str
    kind: RunKind
    sweep: int | None
    pr: int | None
    started: datetime
    finished: datetime
    load: bool
    expected_category: Category | None
    has_results: bool

    @property
    def red(self) -> bool:
        return self.expected_category is not None


@dataclass(frozen=True)
class GeneratedData:
    """Where the sample landed, and the ground truth about it."""

    out_dir: Path
    runs_dir: Path
    warm_dir: Path
    recipes_src: Path
    world_file: Path
    runs: tuple[GeneratedRun, ...]
    expected_verdicts: Mapping[str, Category]

    def run(self, run_id: str) -> GeneratedRun:
        return next(r for r in self.runs if r.run_id == run_id)

    def runs_of(self, recipe: str) -> list[GeneratedRun]:
        """A recipe's runs, oldest first."""
        return sorted((r for r in self.runs if r.recipe == recipe), key=lambda r: r.finished)

    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / run_id


def _request(spec: RunSpec, runs_dir: Path, recipes_src: Path, world_file: Path) -> RunRequest:
    return RunRequest(
        recipe=spec.recipe,
        version=spec.version,
        run_id=spec.run_id,
        runs_dir=runs_dir,
        recipes_src=recipes_src,
        pr=spec.pr,
        ref=spec.ref,
        load=spec.load,
        world_file=world_file,
        clock=ScenarioClock(spec.started, spec.finished),
        faults=spec.faults,
        tier_env=spec.tier_env,
        style=spec.style,
    )


def _build_repo(args: tuple[RecipeSpec, Path]) -> Path:
    return build_recipe_repo(*args)


def date_files(run_dir: Path, finished: datetime) -> None:
    """Date a run's files to the scenario (results.json last), so old runs look settled, not fresh."""
    stamp = finished.timestamp()
    for path in run_dir.rglob("*"):
        if path.is_file():
            at = stamp if path.name == "results.json" else stamp - 1
            os.utime(path, (at, at))


def write_canonicals(world: World, outcomes: Mapping[str, RunOutcome], recipes_src: Path, warm_dir: Path) -> None:
    """canonical.json per recipe: its last green cold run of a release tag, as cc-ci keeps it."""
    for recipe in world.recipes:
        green = [
            spec
            for spec in world.runs
            if spec.recipe == recipe.name
            and spec.pr is None
            and spec.ref is None
            and (results := outcomes[spec.run_id].results) is not None
            and is_green(results)
        ]
        if not green:
            continue
        last = max(green, key=lambda s: s.finished)
        commit = tag_commit(recipes_src / recipe.name, last.version)[:8]
        canonical = {
            "recipe": recipe.name,
            "version": last.version,
            "commit": commit,
            "status": "idle",
            "ts": compact(last.finished),
        }
        (warm_dir / recipe.name).mkdir(parents=True, exist_ok=True)
        (warm_dir / recipe.name / "canonical.json").write_text(json.dumps(canonical, indent=2) + "\n", encoding="utf-8")


def generate(
    out_dir: Path, now: datetime | None = None, world: World | None = None, workers: int | None = None
) -> GeneratedData:
    """Write `recipes-src/`, `runs/`, `warm/` and `sample-world.json` under `out_dir`."""
    world = world or default_world(now or datetime.now(UTC))
    runs_dir, warm_dir, recipes_src = out_dir / "runs", out_dir / "warm", out_dir / "recipes-src"
    for path in (runs_dir, warm_dir, recipes_src):
        if path.exists() and any(path.iterdir()):
            raise FileExistsError(f"{path} is not empty")
    runs_dir.mkdir(parents=True, exist_ok=True)
    warm_dir.mkdir(parents=True, exist_ok=True)
    world_file = out_dir / "sample-world.json"
    world_file.write_text(json.dumps(world.outside_state(), indent=2) + "\n", encoding="utf-8")

    workers = workers or min(os.cpu_count() or 1, 4)
    # spawn: a clean interpreter per worker, even when the caller is itself a pytest session
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(_build_repo, [(r, recipes_src / r.name) for r in world.recipes]))
        requests = [_request(spec, runs_dir, recipes_src, world_file) for spec in world.runs]
        outcomes = dict(zip((s.run_id for s in world.runs), pool.map(run_recipe, requests), strict=True))
    for spec in world.runs:
        date_files(runs_dir / spec.run_id, spec.finished)
    write_canonicals(world, outcomes, recipes_src, warm_dir)

    runs = tuple(
        GeneratedRun(
            s.run_id,
            s.recipe,
            s.version,
            s.kind,
            s.sweep,
            s.pr,
            s.started,
            s.finished,
            s.load,
            s.expect,
            outcomes[s.run_id].results is not None,
        )
        for s in world.runs
    )
    return GeneratedData(out_dir, runs_dir, warm_dir, recipes_src, world_file, runs, dict(world.verdicts))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--now", type=parse_iso, help="scenario 'now' (ISO 8601); default: the current time")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    began = time.monotonic()
    data = generate(args.out_dir, now=args.now, workers=args.workers)
    red = sum(r.red for r in data.runs)
    print(
        f"{len(data.runs)} runs ({red} red) in {data.runs_dir}, warm dir {data.warm_dir}, "
        f"recipes in {data.recipes_src} [{time.monotonic() - began:.1f}s]"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
