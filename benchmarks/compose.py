"""Effective-compose benchmark: what reading a recipe the Co-op Cloud way costs the peer diff and the stale search.

    .venv/bin/python benchmarks/compose.py [--tags 60] [--rounds 20]

Builds a recipe repo in bonfire's shape (compose.yml + compose.postgres.yml switched on by COMPOSE_FILE in
.env.sample, env-default pins) with the given number of release tags, then times, each the median of the
rounds: one effective compose at a tag (what the peer diff reads per side), every ref's renderings (what
the stale-test search adds), the search's `git grep` alone (what it did before), and a whole search.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.artifacts.compose import read_at_refs, read_effective
from bot.verdicts.assertions import Expectation
from bot.verdicts.staletest import GitRecipeSearch
from tests.recipe_repos import BONFIRE, recipe_repo


def median_ms(rounds: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tags", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        releases = {
            f"1.{n}.0+1.0.{n}": {"compose.postgres.yml": BONFIRE["compose.postgres.yml"].replace("17-3.5", f"17-3.{n}")}
            for n in range(args.tags)
        }
        first = next(iter(releases))
        releases[first] = {**BONFIRE, **releases[first]}
        clone = recipe_repo(Path(tmp) / "bonfire", releases)
        tags = list(releases)
        search = GitRecipeSearch()
        wanted = Expectation("test_x", "x", ("ghcr.io/baosystems/postgis:99-9",), ())
        figures = {
            "one effective compose at a tag (peer diff, per side)": median_ms(
                args.rounds, lambda: read_effective(clone, tags[-1], "bonfire")
            ),
            f"renderings of {len(tags)} tags and main (stale search, added)": median_ms(
                args.rounds, lambda: read_at_refs(clone, [*tags, "main"], "bonfire")
            ),
            "git grep over every tag and main (the search before)": median_ms(
                args.rounds, lambda: search._revs_containing(clone, "postgis:99-9", [*tags, "main"], ())
            ),
            "whole stale search, value in no tag": median_ms(args.rounds, lambda: search.check(clone, wanted)),
        }
    print(f"recipe in bonfire's shape, {args.tags} tags, median of {args.rounds} rounds:")
    for name, ms in figures.items():
        print(f"  {name}: {ms:.1f} ms")


if __name__ == "__main__":
    main()
