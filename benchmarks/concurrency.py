"""Commands do not wait on each other: `help` and `status` asked while an `ingest` of a big backlog runs.

Builds N new run dirs (as benchmarks/ingest.py does, from run dirs the sample generator made by
really running pytest), then feeds the bot's command inbox `!ccci ingest` (an operator) followed by
`!ccci help` and `!ccci status` (another user), as one sync batch would, and times each command from
being recorded to its answer being queued in the outbox. The bot is the real one (inbox, tasks,
dispatcher, handlers, renderers, outbox queue) without a homeserver: the Matrix round trip is
benchmarks/roundtrip.py's.

    .venv/bin/python benchmarks/concurrency.py [--runs 10000] [--work DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

from msgspec.structs import replace

from bot.config import AccessConfig, Config, LinksConfig, MatrixConfig
from bot.matrix.client import MatrixConnection
from bot.matrix.events import ChatMessage
from bot.runtime.bot import Bot
from bot.service import Service
from demo.sample.generate import generate


async def measure(config: Config) -> dict[str, float]:
    service = Service(config)
    bot = Bot(config, service, MatrixConnection(config.matrix, config.data_dir))
    asked = {
        "ingest": ChatMessage("$ingest", "!ops", "@alice:x", "!ccci ingest", "m.text", 1),
        "help": ChatMessage("$help", "!ops", "@bob:x", "!ccci help", "m.text", 2),
        "status": ChatMessage("$status", "!ops", "@bob:x", "!ccci status", "m.text", 3),
    }
    done: dict[str, float] = {}
    t0 = time.perf_counter()
    await asyncio.to_thread(bot.chat.record, list(asked.values()))
    await bot.command_tasks.start_recorded()
    tasks = {name: bot.command_tasks.in_flight[m.event_id].task for name, m in asked.items()}
    for name, task in tasks.items():
        task.add_done_callback(lambda _t, n=name: done.setdefault(n, time.perf_counter() - t0))
    await asyncio.gather(*tasks.values())
    unanswered = [name for name, m in asked.items() if not service.store.chat.is_handled(m.event_id)]
    assert not unanswered, unanswered
    service.close()
    return done


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    from ingest import build_history  # benchmarks/ingest.py's history builder

    work = args.work or Path(tempfile.mkdtemp(prefix="ccci-bench-"))
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    try:
        sample = generate(work / "sample")
        templates = [p for p in sorted(sample.runs_dir.iterdir()) if (p / "results.json").exists()]
        runs_dir = work / "runs"
        build_history(templates, runs_dir, args.runs)
        config = Config(data_dir=work / "state", links=LinksConfig("https://ci.example/runs/{run_id}/{path}"))
        config = config.with_overrides(runs_dir=runs_dir, warm_dir=sample.warm_dir)
        config = replace(
            config,
            matrix=MatrixConfig(homeserver="http://127.0.0.1:9", user_id="@bot:x"),  # never contacted
            access=AccessConfig(operators=("@alice:x",)),
        )
        done = asyncio.run(measure(config))
        print(f"{args.runs} new run dirs; each command from recorded to its answer queued:")
        for name in ("help", "status", "ingest"):
            print(f"  !ccci {name:<7} {done[name] * 1000:10.1f} ms")
        print(f"help answered {done['ingest'] / done['help']:.0f}x sooner than the ingest it was asked behind")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
