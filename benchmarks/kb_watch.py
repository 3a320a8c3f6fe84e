"""The running bot's look at ``knowledge.dirs`` on every poll (bot.kb.watch): what a poll with nothing
changed costs (a ``stat`` of each YAML file, nothing read), next to loading the knowledge base again, which
only a change causes.

``--files`` signature files (one signature each, as `learn` writes them) are written into a temporary dir;
each figure is the best of ``--rounds`` rounds, per call, with this process's CPU time (the steadier figure
on a shared machine).

    .venv/bin/python benchmarks/kb_watch.py [--files 10,100,1000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import yaml

from bot.kb import load_kb
from bot.kb.watch import KnowledgeWatch


def best(call: Callable[[], object], number: int, rounds: int) -> tuple[float, float]:
    """The best round's wall and CPU seconds per call."""
    walls, cpus = [], []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(number):
            call()
        walls.append((time.perf_counter() - wall) / number)
        cpus.append((time.process_time() - cpu) / number)
    return min(walls), min(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", default="10,100,1000", help="numbers of signature files, comma-separated")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print("| files | poll, nothing changed (wall / CPU) | load again (wall / CPU) |")
    print("|---|---|---|")
    for n in (int(x) for x in args.files.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            kb_dir = Path(tmp)
            for i in range(n):
                signature = {
                    "id": f"learned-sig-{i:05d}",
                    "category": "flake",
                    "description": "A benchmark's signature.",
                    "match": [{"failure": f"boom {i} happened"}],
                    "examples": {"match": [f"boom {i} happened"], "no_match": ["all fine"]},
                }
                (kb_dir / f"learned-sig-{i:05d}.yaml").write_text(yaml.safe_dump({"signatures": [signature]}))
            watch = KnowledgeWatch([kb_dir])
            assert not watch.moved()
            poll = best(watch.moved, 200, args.rounds)
            load = best(partial(load_kb, [kb_dir]), 1, max(1, args.rounds // 2))
            polled = f"{poll[0] * 1e3:.2f} ms / {poll[1] * 1e3:.2f} ms"
            print(f"| {n:,} | {polled} | {load[0] * 1e3:.0f} ms / {load[1] * 1e3:.0f} ms |")


if __name__ == "__main__":
    main()
