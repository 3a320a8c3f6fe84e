"""Round trip through a local Synapse: `!ccci why` answered by ccci-bot (10,000 runs of history)
next to a bare matrix-nio echo bot (the floor), measured in the same run on the same server.
Then the bot's idle CPU and RSS over a minute.

    .venv/bin/python benchmarks/roundtrip.py [--runs 10000] [--asks 60] [--idle-s 60]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))  # tests.matrix_harness: the bot as a process

from ingest import RECIPES, build_history

from bot.cli import main as cli
from bot.scaffold.devserver.synapse import LocalSynapse
from bot.scaffold.operator import Operator, joined, reply_to
from bot.scaffold.sample.generate import generate
from tests.matrix_harness import BotProcess, write_bot_config


async def measure(operator: Operator, room_id: str, responder: str, prefix: str, asks: int) -> list[float]:
    await operator.catch_up()
    times = []
    for i in range(asks):
        start = time.perf_counter()
        event_id = await operator.say(room_id, f"{prefix} {RECIPES[i % len(RECIPES)]}")
        await operator.wait_for(reply_to(event_id, responder), timeout=60)
        times.append((time.perf_counter() - start) * 1000)
    return times


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmRSS"))
    return int(line.split()[1]) / 1024


def summary(name: str, times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    p50, p95 = statistics.median(ordered), ordered[int(len(ordered) * 0.95) - 1]
    print(f"{name:<28} median {p50:6.1f} ms   p95 {p95:6.1f} ms   (n={len(times)})")
    return p50, p95


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--asks", type=int, default=60)
    parser.add_argument("--idle-s", type=float, default=60.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ccci-roundtrip-"))
    echo: subprocess.Popen[bytes] | None = None
    bot: BotProcess | None = None
    try:
        sample = generate(work / "sample")
        templates = [p for p in sorted(sample.runs_dir.iterdir()) if (p / "results.json").exists()]
        build_history(templates, work / "runs", args.runs)
        with LocalSynapse(work / "synapse") as synapse:
            bot_user = synapse.register("ccci-bot", "bot-password")
            echo_user = synapse.register("echo")
            person = synapse.register("operator")
            operator = Operator(person, synapse.url)

            async def rooms() -> tuple[str, str]:
                ops = await operator.create_room("ops", invite=[bot_user.user_id])
                floor = await operator.create_room("floor", invite=[echo_user.user_id])
                return ops, floor

            loop = asyncio.new_event_loop()
            ops_room, floor_room = loop.run_until_complete(rooms())
            config = work / "bot.yaml"
            write_bot_config(
                config, synapse, bot_user, [ops_room], work / "state", work / "runs", sample.warm_dir, [person.user_id]
            )
            t = time.perf_counter()
            assert cli(["ingest", "--config", str(config)]) == 0
            print(f"history: {args.runs} runs ingested in {time.perf_counter() - t:.1f} s")
            bot = BotProcess(config, "bot-password", work / "bot.log")
            bot.start()
            echo = subprocess.Popen(
                [
                    sys.executable,
                    str(Path(__file__).parent / "echo_bot.py"),
                    synapse.url,
                    echo_user.user_id,
                    echo_user.device_id or "ECHO",
                    echo_user.access_token,
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

            async def run_both() -> tuple[list[float], list[float]]:
                await operator.wait_for(joined(bot_user.user_id), timeout=60)
                await operator.wait_for(joined(echo_user.user_id), timeout=60)
                await measure(operator, ops_room, bot_user.user_id, "!ccci why", 5)  # warm-up
                await measure(operator, floor_room, echo_user.user_id, "!echo why", 5)
                bot_times, echo_times = [], []
                for _ in range(3):  # interleaved rounds, so both see the same machine
                    bot_times += await measure(operator, ops_room, bot_user.user_id, "!ccci why", args.asks // 3)
                    echo_times += await measure(operator, floor_room, echo_user.user_id, "!echo why", args.asks // 3)
                return bot_times, echo_times

            bot_times, echo_times = loop.run_until_complete(run_both())
            loop.run_until_complete(operator.close())
            loop.close()
            print()
            bot_p50, _ = summary("ccci-bot `!ccci why`", bot_times)
            echo_p50, _ = summary("bare nio echo bot (floor)", echo_times)
            print(f"ratio at the median: {bot_p50 / echo_p50:.2f}   (target <= 1.5)")
            assert bot.proc is not None
            pid = bot.proc.pid
            before = cpu_seconds(pid)
            time.sleep(args.idle_s)  # measuring idle time is the point here, not synchronisation
            used = cpu_seconds(pid) - before
            print(
                f"bot idle over {args.idle_s:.0f} s: CPU {used:.2f} s ({100 * used / args.idle_s:.2f} %),"
                f" RSS {rss_mb(pid):.0f} MB"
            )
    finally:
        if bot is not None:
            bot.stop()
        if echo is not None:
            echo.terminate()
            echo.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
