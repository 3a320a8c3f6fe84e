"""Rerun log benchmark: a runner step that writes a lot of output, through the bot's pipe into the capped
log (issue 25, item 3), against the same step writing to /dev/null by itself.

    .venv/bin/python benchmarks/rerun_log.py [--mb 300] [--rounds 3]

Prints the wall time of each, the throughput through the bot, and the size of the log it kept.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from msgspec.structs import replace

sys.path.insert(0, str(Path(__file__).parent.parent))

from bot.config import Config, RunnerConfig
from bot.reruns.execute import Execution


def writer(megabytes: int) -> list[str]:
    block = "b'0123456789abcde\\n' * 4096"  # 64 KiB
    code = f"import sys\nblock = {block}\nfor _ in range({megabytes} * 16): sys.stdout.buffer.write(block)"
    return [sys.executable, "-c", code]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    argv = writer(args.mb)
    with tempfile.TemporaryDirectory() as tmp:
        config = replace(Config(data_dir=Path(tmp)), runner=RunnerConfig(steps=(tuple(argv),), env=()))
        alone, bot, sizes = [], [], []
        for i in range(args.rounds):
            started = time.perf_counter()
            subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)
            alone.append(time.perf_counter() - started)
            log = Path(tmp) / f"round-{i}.log"
            started = time.perf_counter()
            asyncio.run(Execution().run(config, "bench", "1", f"bench-{i}", log, None))
            bot.append(time.perf_counter() - started)
            sizes.append(log.stat().st_size)
    print(f"{args.mb} MB of output, {args.rounds} rounds (median):")
    print(f"  the step alone, to /dev/null:     {statistics.median(alone):6.2f} s")
    print(f"  through the bot into its log:     {statistics.median(bot):6.2f} s", end="")
    print(f"  ({args.mb / statistics.median(bot):.0f} MB/s)")
    cap = config.runner.log_max_bytes / 2**20
    print(f"  log kept: {max(sizes) / 2**20:.2f} MiB (runner.log_max_bytes {cap:.0f} MiB)")


if __name__ == "__main__":
    main()
