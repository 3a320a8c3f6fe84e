"""Sweep summary latency: from the last run dir of a 20-recipe sweep appearing (and cc-ci's active
marker going away) to the summary being visible in the room, through a local Synapse.

Measured twice: woken by the signed webhook (`POST /hooks/run-finished`), and by polling alone
(`reports.poll_s`). `reports.quiet_s` is 0 here: in production the configured quiet period comes on
top, by design (it is how the bot knows the sweep is over when no webhook is sent).

    .venv/bin/python benchmarks/report_latency.py [--history-sweeps 20] [--trials 5] [--poll-s 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))  # tests.matrix_harness: the bot as a process

from ingest import RECIPES, build_history

from bot.runtime.report_loop import BASELINE_KEY
from bot.web.hooks import SIGNATURE_HEADER, sign
from demo.devserver.process import free_port
from demo.devserver.synapse import LocalSynapse, MatrixUser
from demo.operator import Operator, joined, message_from
from demo.sample.generate import generate
from tests.matrix_harness import BotProcess, write_bot_config

SECRET_ENV, SECRET = "CCCI_BENCH_WEBHOOK_SECRET", "bench-secret"


def wait_meta(db: Path, key: str, timeout: float = 120.0) -> None:
    import sqlite3

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db.exists():
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
                try:
                    if conn.execute("SELECT 1 FROM meta WHERE key = ?", (key,)).fetchone():
                        return
                except sqlite3.OperationalError:
                    pass
        time.sleep(0.05)
    raise TimeoutError(key)


async def trial(
    operator: Operator, bot_user: MatrixUser, sweep_dirs: list[Path], runs_dir: Path, active: Path, hook: str | None
) -> float:
    """Write one sweep as cc-ci would; return seconds from its last run dir to the summary in the room."""
    await operator.catch_up()
    match = message_from(bot_user.user_id, "Sweep ")
    before = len([e for e in operator.seen if match(e)])
    marker = active / "last-recipe.ci.example.org"
    marker.write_text("")
    for d in sweep_dirs[:-1]:
        os.rename(d, runs_dir / d.name)
    start = time.perf_counter()
    os.rename(sweep_dirs[-1], runs_dir / sweep_dirs[-1].name)
    marker.unlink()
    if hook is not None:
        body = b'{"event": "run-finished"}'
        request = urllib.request.Request(hook, data=body, headers={SIGNATURE_HEADER: sign(SECRET, body)}, method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 202
    await operator.wait_for(match, timeout=600, count=before + 1)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--history-sweeps", type=int, default=20)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--poll-s", type=float, default=5.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ccci-report-latency-"))
    os.environ[SECRET_ENV] = SECRET
    try:
        sample = generate(work / "sample")
        templates = [p for p in sorted(sample.runs_dir.iterdir()) if (p / "results.json").exists()]
        per = len(RECIPES)
        total = (args.history_sweeps + 2 * args.trials) * per
        build_history(templates, work / "all", total)
        ids = [f"{100000 + i}" if i % 3 else f"ab-{i:05x}" for i in range(total)]  # build_history's naming
        chunks = [[work / "all" / i for i in ids[k : k + per]] for k in range(0, total, per)]
        runs_dir = work / "runs"
        runs_dir.mkdir()
        for chunk in chunks[: args.history_sweeps]:
            for d in chunk:
                os.rename(d, runs_dir / d.name)
        pending = chunks[args.history_sweeps :]
        results: dict[str, list[float]] = {}
        with LocalSynapse(work / "synapse") as synapse:
            bot_user = synapse.register("ccci-bot", "bot-password")
            person = synapse.register("operator")
            for mode in ("webhook", "poll"):
                operator = Operator(person, synapse.url)
                loop = asyncio.new_event_loop()
                room = loop.run_until_complete(operator.create_room(f"ops-{mode}", invite=[bot_user.user_id]))
                state = work / f"state-{mode}"
                (state / "active").mkdir(parents=True)
                port = free_port()
                reports = {
                    "poll_s": 3600 if mode == "webhook" else args.poll_s,
                    "quiet_s": 0,
                    "auto_rerun": False,
                    "thread_over": 100,
                }
                if mode == "webhook":
                    reports["webhook_secret_env"] = SECRET_ENV
                config = work / f"bot-{mode}.yaml"
                write_bot_config(
                    config,
                    synapse,
                    bot_user,
                    [room],
                    state,
                    runs_dir,
                    sample.warm_dir,
                    [person.user_id],
                    extra={"reports": reports, "web": {"listen": f"127.0.0.1:{port}"}},
                )
                bot = BotProcess(config, "bot-password", work / f"bot-{mode}.log")
                bot.start()
                try:
                    loop.run_until_complete(operator.wait_for(joined(bot_user.user_id), timeout=120))
                    wait_meta(state / "ccci-bot.sqlite3", BASELINE_KEY)
                    hook = f"http://127.0.0.1:{port}/hooks/run-finished" if mode == "webhook" else None
                    times = []
                    for _ in range(args.trials):
                        chunk = pending.pop(0)
                        times.append(
                            loop.run_until_complete(trial(operator, bot_user, chunk, runs_dir, state / "active", hook))
                        )
                    results[mode] = times
                finally:
                    bot.stop()
                    loop.run_until_complete(operator.close())
                    loop.close()
        print(f"history: {args.history_sweeps} sweeps x {per} recipes already ingested; {args.trials} trials per mode")
        for mode, times in results.items():
            label = "webhook (poll_s 3600)" if mode == "webhook" else f"polling (poll_s {args.poll_s:g})"
            print(
                f"{label:<24} last run dir -> summary in the room: median {statistics.median(times) * 1000:7.0f} ms"
                f"   max {max(times) * 1000:7.0f} ms   (n={len(times)})"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
