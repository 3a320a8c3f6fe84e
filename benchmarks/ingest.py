"""Ingest benchmark: 10,000 run dirs (20 recipes, 5 tiers) and one 1 GiB log.

Prints, each as the median of ``--rounds`` rounds (≥ 5) with min and max: full-ingest time (a fresh
database each round, after ``os.sync()``), no-change re-ingest time, `why` latency p50/p95 over all
recipes with verdicts as the bot serves them, peak RSS (the workers' own), and the log-scan
throughput of the evidence search next to `grep -c` over the same file, alternating.

The run dirs are copies of run dirs the sample generator made by really running pytest, given new
ids, recipes and times (hard links for JUnit and logs, so building 10,000 dirs stays fast).

    .venv/bin/python benchmarks/ingest.py [--runs 10000] [--log-gib 1] [--rounds 5] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot.answers.why import why
from bot.artifacts.timefmt import iso
from bot.config import Config, LinksConfig
from bot.ingest.scan import ingest
from bot.kb import load_kb
from bot.store import Store
from bot.verdicts.cache import Verdicts
from bot.verdicts.staletest import GitRecipeSearch
from demo.sample.generate import generate

sys.path.insert(0, str(Path(__file__).parent))

from measure import WorkerRss, spread

RECIPES = [
    "discourse",
    "mattermost-lts",
    "mumble",
    "immich",
    "gitea",
    "bluesky",
    "outline",
    "nextcloud",
    "keycloak",
    "wordpress",
    "hedgedoc",
    "lasuite-docs",
    "matrix-synapse",
    "peertube",
    "authentik",
    "forgejo",
    "n8n",
    "vaultwarden",
    "plausible",
    "jitsi",
]
NEEDLE = "test_restore_returns_state"


def build_history(templates: list[Path], runs_dir: Path, n: int) -> Path:
    """n run dirs in sweeps of 20 overlapping runs; return the dir of a red run (for the big log)."""
    runs_dir.mkdir(parents=True)
    t0 = 1_700_000_000.0
    red_dir: Path | None = None
    for i in range(n):
        template = templates[i % len(templates)]
        sweep, slot = divmod(i, len(RECIPES))
        started = t0 + sweep * 7 * 86400 + slot * 60
        data = json.loads((template / "results.json").read_text())
        run_id = f"{100000 + i}" if i % 3 else f"ab-{i:05x}"
        data.update(recipe=RECIPES[slot], run_id=run_id, pr=None, started=iso(started), finished=iso(started + 1500))
        target = runs_dir / run_id
        (target / "junit").mkdir(parents=True)
        (target / "results.json").write_text(json.dumps(data))
        for xml in (template / "junit").glob("*.xml"):
            os.link(xml, target / "junit" / xml.name)
        if (template / "run.log").exists():
            os.link(template / "run.log", target / "run.log")
        if red_dir is None and NEEDLE in (template / "run.log").read_text(errors="replace"):
            red_dir = target
    assert red_dir is not None, "no red template mentions " + NEEDLE
    return red_dir


def write_big_log(path: Path, gib: float) -> int:
    """Replace a run's log with ``gib`` GiB: the real log, filler, and the failure near the end."""
    real = path.read_bytes() if path.exists() else b""
    path.unlink(missing_ok=True)
    filler = b"".join(
        b"2026-11-22T03:%02d:%02dZ INFO harness: waiting for service convergence (task %d of 40)\n"
        % (i % 60, i % 60, i)
        for i in range(4000)
    )
    target = int(gib * (1 << 30))
    with path.open("wb") as out:
        written = 0
        while written < target - len(real):
            out.write(filler)
            written += len(filler)
        out.write(real)
    return path.stat().st_size


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def scan_rss_growth(log: Path) -> tuple[float, float]:
    """Peak RSS during the scan minus RSS before it (MB), and its seconds, in a fresh process."""
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork+exec.
    code = (
        "import sys,time;from pathlib import Path;from bot.artifacts.logscan import scan_log;"
        "kb=lambda k:int(next(l for l in open('/proc/self/status') if l.startswith(k)).split()[1]);"
        "before=kb('VmRSS');t=time.perf_counter();"
        f"s=scan_log(Path(sys.argv[1]),[{NEEDLE!r}]);d=time.perf_counter()-t;"
        "print((kb('VmHWM')-before)/1024,d,len(s.hits))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(log)], capture_output=True, text=True, check=True)
    growth, seconds, hits = out.stdout.split()
    assert int(hits) > 0
    return float(growth), float(seconds)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--log-gib", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="ccci-bench-"))
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    try:
        t = time.perf_counter()
        sample = generate(work / "sample")
        templates = [p for p in sorted(sample.runs_dir.iterdir()) if (p / "results.json").exists()]
        print(f"sample generated by running pytest: {len(templates)} template runs in {time.perf_counter() - t:.1f}s")
        t = time.perf_counter()
        runs_dir = work / "runs"
        red_dir = build_history(templates, runs_dir, args.runs)
        print(f"history built: {args.runs} run dirs, {len(RECIPES)} recipes in {time.perf_counter() - t:.1f}s")
        big_log = red_dir / "run.log"
        size = write_big_log(big_log, args.log_gib)
        print(f"big log: {size / (1 << 30):.2f} GiB in run {red_dir.name}")

        links = LinksConfig("https://ci.example/runs/{run_id}/{path}")
        later = time.time() + 3600  # every run has settled
        full, reingest, p50s, p95s, scans, greps, growths = [], [], [], [], [], [], []
        worker_rss = 0.0
        for n in range(args.rounds):
            config = Config(data_dir=work / f"state-{n}", links=links)
            config = config.with_overrides(runs_dir=runs_dir, warm_dir=sample.warm_dir)
            store = Store(config.db_path)
            os.sync()
            with WorkerRss() as rss:
                t = time.perf_counter()
                report = ingest(store, config, now=later)
                full.append(time.perf_counter() - t)
            worker_rss = max(worker_rss, rss.peak)
            assert len(report.ingested) == args.runs, report.problems[:5]
            t = time.perf_counter()
            again = ingest(store, config, now=later)
            reingest.append(time.perf_counter() - t)
            assert not again.ingested
            verdicts = Verdicts(store, config, load_kb(config.knowledge.dirs), GitRecipeSearch())
            verdicts.decide_again()  # what the bot does after an ingest
            latencies = []
            for _ in range(10):
                for recipe in RECIPES:
                    t = time.perf_counter()
                    why(store, config, recipe, verdicts)
                    latencies.append((time.perf_counter() - t) * 1000)
            latencies.sort()
            p50s.append(statistics.median(latencies))
            p95s.append(latencies[int(len(latencies) * 0.95) - 1])
            store.close()
            growth, scan_s = scan_rss_growth(big_log)
            growths.append(growth)
            scans.append(scan_s)
            greps.append(timed(["grep", "-c", NEEDLE, str(big_log)]))
        with open("/proc/self/status") as status:
            rss_self = int(next(line for line in status if line.startswith("VmHWM")).split()[1]) / 1024
        gib = size / (1 << 30)
        print()
        print(f"median [min–max] of {args.rounds} rounds")
        print(f"full ingest ({args.runs} runs), s:           {spread(full)}   (target < 60 s)")
        print(f"re-ingest, nothing new, s:               {spread(reingest)}   (target < 1 s)")
        print(f"why with verdicts, p50 over {len(RECIPES)} recipes, ms: {spread(p50s)}")
        print(f"why with verdicts, p95 over {len(RECIPES)} recipes, ms: {spread(p95s)}   (target p95 < 50 ms)")
        print(f"peak RSS: bot process {rss_self:.0f} MB, largest ingest worker {worker_rss:.0f} MB")
        print(f"log scan of {gib:.2f} GiB, GiB/s:            {spread([gib / s for s in scans])}")
        print(f"grep -c over the same file, GiB/s:       {spread([gib / g for g in greps])}")
        print(f"scan throughput / grep's (per round):    {spread([g / s for s, g in zip(scans, greps, strict=True)])}")
        print(f"scan RSS growth, MB:                     {spread(growths)}   (target < 100 MB)")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
