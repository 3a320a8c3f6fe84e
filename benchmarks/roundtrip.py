"""Round trip through a local Synapse: `!ccci why` answered by ccci-bot (10,000 runs of history)
next to a bare matrix-nio echo bot (the floor), measured in the same run on the same server.
Then the bot's idle CPU and RSS over a minute.

With --encrypted the same bot also answers in an end-to-end encrypted room, and the operator is an
E2EE nio client: encrypted room, plain room and echo bot are measured interleaved in one run (the
operator encrypts its command and decrypts the answer, so both sides' crypto is in the figure).

    .venv/bin/python benchmarks/roundtrip.py [--runs 10000] [--asks 60] [--idle-s 60] [--encrypted]
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
from demo.devserver.synapse import LocalSynapse
from demo.operator import Operator, joined, reply_to
from demo.sample.generate import generate
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
    parser.add_argument("--encrypted", action="store_true", help="also measure an end-to-end encrypted room")
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
            operator = Operator(person, synapse.url, store_path=work / "operator-store" if args.encrypted else None)

            async def rooms() -> tuple[str, str, str | None]:
                ops = await operator.create_room("ops", invite=[bot_user.user_id])
                floor = await operator.create_room("floor", invite=[echo_user.user_id])
                e2ee = None
                if args.encrypted:
                    e2ee = await operator.create_room("ops-e2ee", invite=[bot_user.user_id], encrypted=True)
                return ops, floor, e2ee

            loop = asyncio.new_event_loop()
            ops_room, floor_room, e2ee_room = loop.run_until_complete(rooms())
            config = work / "bot.yaml"
            bot_rooms = [ops_room] + ([e2ee_room] if e2ee_room else [])
            write_bot_config(
                config, synapse, bot_user, bot_rooms, work / "state", work / "runs", sample.warm_dir, [person.user_id]
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

            async def run_all() -> tuple[list[float], list[float], list[float]]:
                await operator.wait_for(joined(bot_user.user_id), timeout=60, count=len(bot_rooms))
                await operator.wait_for(joined(echo_user.user_id), timeout=60)
                await measure(operator, ops_room, bot_user.user_id, "!ccci why", 5)  # warm-up
                await measure(operator, floor_room, echo_user.user_id, "!echo why", 5)
                if e2ee_room:
                    await measure(operator, e2ee_room, bot_user.user_id, "!ccci why", 5)
                bot_times, echo_times, e2ee_times = [], [], []
                for _ in range(3):  # interleaved rounds, so all see the same machine
                    bot_times += await measure(operator, ops_room, bot_user.user_id, "!ccci why", args.asks // 3)
                    echo_times += await measure(operator, floor_room, echo_user.user_id, "!echo why", args.asks // 3)
                    if e2ee_room:
                        e2ee_times += await measure(operator, e2ee_room, bot_user.user_id, "!ccci why", args.asks // 3)
                if e2ee_room:  # every answer in the encrypted room arrived encrypted and decrypted
                    answers = [
                        e
                        for e in operator.seen
                        if e.get("room_id") == e2ee_room
                        and e.get("sender") == bot_user.user_id
                        and e.get("type") == "m.room.message"
                    ]
                    assert answers and all(e.get("encrypted") for e in answers), "an answer was not encrypted"
                return bot_times, echo_times, e2ee_times

            bot_times, echo_times, e2ee_times = loop.run_until_complete(run_all())
            loop.run_until_complete(operator.close())
            loop.close()
            print()
            bot_p50, _ = summary("ccci-bot `!ccci why`", bot_times)
            if e2ee_times:
                e2ee_p50, _ = summary("ccci-bot, encrypted room", e2ee_times)
            echo_p50, _ = summary("bare nio echo bot (floor)", echo_times)
            print(f"ratio at the median: {bot_p50 / echo_p50:.2f}   (target <= 1.5)")
            if e2ee_times:
                print(f"encrypted / plain room at the median: {e2ee_p50 / bot_p50:.2f}")
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
