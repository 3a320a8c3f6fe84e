"""Rerun benchmark: the bot's overhead on a rerun (its wall time minus the runner's own), and the time
from a tier's JUnit file appearing to the status message being edited in the room.

    .venv/bin/python benchmarks/rerun.py [--times 3] [--gap-s 3]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from msgspec.structs import replace

sys.path.insert(0, str(Path(__file__).parent.parent))

from bot.config import Config, DockerConfig, RunnerConfig
from bot.model.reruns import NotifyKind
from bot.reruns.manager import RerunManager
from bot.reruns.preflight import Node
from bot.service import Service
from bot.store.reruns import Rerun
from demo.devserver.synapse import LocalSynapse
from demo.operator import Operator, joined, reply_to
from demo.sample.generate import GeneratedData, generate
from demo.sample.standin_runner import STEP, runner_env
from tests.matrix_harness import BotProcess, write_bot_config


async def overhead(sample: GeneratedData, work: Path, times: int) -> None:
    runs = work / "runs-overhead"
    shutil.copytree(sample.runs_dir, runs)
    env = runner_env(runs, sample.recipes_src, sample.world_file)
    config = Config(data_dir=work / "state-overhead").with_overrides(runs_dir=runs, warm_dir=sample.warm_dir)
    config = replace(
        config,
        ccci=replace(config.ccci, active_dir=work / "active"),
        runner=replace(RunnerConfig(), steps=(STEP,), env=tuple(env.items())),
        docker=DockerConfig(base_url=None),
    )
    (work / "active").mkdir()
    service = Service(config)
    await service.ingest()

    async def quiet(rerun: Rerun, kind: NotifyKind, text: str) -> None:
        return None

    manager = RerunManager(service, Node(config.ccci.active_dir, None, ()), quiet, asyncio.Event())
    rerun, _, _ = await manager.request("mumble", None, times, "bench")
    start = time.perf_counter()
    await manager.process(rerun)
    total = time.perf_counter() - start
    final = manager.store.get(rerun.id)
    runner_s = sum(a.seconds for a in final.attempts)
    print(
        f"rerun of mumble x{times}: wall {total:.2f} s, runner's own {runner_s:.2f} s, bot overhead "
        f"{total - runner_s:.2f} s ({(total - runner_s) / times * 1000:.0f} ms per attempt: preflight, finding "
        "the run dir, ingest, verdict, report)"
    )
    service.close()


def watch_latency(sample: GeneratedData, work: Path, gap_s: float) -> None:
    template = next(
        p
        for p in sorted(sample.runs_dir.iterdir())
        if (p / "results.json").exists() and len(list((p / "junit").glob("*.xml"))) >= 5
    )
    runs = work / "runs-watch"
    shutil.copytree(sample.runs_dir, runs)
    stamps = work / "stamps.txt"
    with LocalSynapse(work / "synapse") as synapse:
        bot_user, person = synapse.register("ccci-bot", "bot-password"), synapse.register("operator")
        operator = Operator(person, synapse.url)
        loop = asyncio.new_event_loop()
        room = loop.run_until_complete(operator.create_room("ops", invite=[bot_user.user_id]))
        config = work / "bot.yaml"
        runner = {
            "steps": [[sys.executable, str(Path(__file__).parent / "slow_runner.py")]],
            "env": {
                "RUN_ID": "{run_id}",
                "CCCI_RUNS_DIR": str(runs),
                "TEMPLATE": str(template),
                "STAMPS": str(stamps),
                "GAP_S": str(gap_s),
            },
        }
        write_bot_config(
            config,
            synapse,
            bot_user,
            [room],
            work / "state-watch",
            runs,
            sample.warm_dir,
            [person.user_id],
            runner=runner,
        )
        bot = BotProcess(config, "bot-password", work / "bot.log")
        bot.start()
        try:
            recipe = template.name and __import__("json").loads((template / "results.json").read_text())["recipe"]

            async def go() -> list[dict[str, object]]:
                await operator.wait_for(joined(bot_user.user_id), timeout=60)
                cmd = await operator.say(room, f"!ccci rerun {recipe}")
                await operator.wait_for(
                    lambda e: (
                        " green" in str((e.get("content") or {}).get("body")) and reply_to(cmd, bot_user.user_id)(e)
                    ),
                    timeout=300,
                )
                return [e for e in operator.seen if e.get("sender") == bot_user.user_id]

            events = loop.run_until_complete(go())
            loop.run_until_complete(operator.close())
        finally:
            bot.stop()
    if not stamps.exists():
        raise SystemExit(f"the slow runner never ran; bot log:\n{(work / 'bot.log').read_text()[-3000:]}")
    if not stamps.exists():
        raise SystemExit(f"the slow runner never ran; bot log:\n{(work / 'bot.log').read_text()[-3000:]}")
    landed = {line.split()[0].split("__")[0]: float(line.split()[1]) for line in stamps.read_text().splitlines()}
    latencies = []
    for tier, when in landed.items():
        for e in events:
            new = (e.get("content") or {}).get("m.new_content")  # type: ignore[union-attr]
            if isinstance(new, dict) and tier in str(new.get("body")):
                latencies.append(int(e["origin_server_ts"]) / 1000 - when)  # type: ignore[call-overload]
                break
    if not latencies:
        said = [str((e.get("content") or {}).get("body"))[:100] for e in events]  # type: ignore[union-attr]
        raise SystemExit(f"no status edit seen; the bot said: {said}")
    print(
        f"JUnit file appears → status message edited (server time), {len(latencies)} tiers: "
        f"median {statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms "
        f"(the watcher looks once a second)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--times", type=int, default=3)
    parser.add_argument("--gap-s", type=float, default=3.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ccci-rerun-"))
    try:
        sample = generate(work / "sample")
        asyncio.run(overhead(sample, work, args.times))
        watch_latency(sample, work, args.gap_s)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
