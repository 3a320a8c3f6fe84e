"""Flat in history: the same measures at a small and a large history, side by side.

Two runs dirs are built from the same generated templates (see ``ingest.py``: run dirs the sample
generator made by really running pytest, copied under new ids and times): ``--small`` runs (1,000)
and ``--large`` runs (50,000). For each, every figure is the median of ``--rounds`` rounds (≥ 5) with
its min and max:

* full ingest per run: a fresh database each round, after ``os.sync()`` so the dirs just written are
  on disk and the previous round's database writes do not land in this one's time;
* no-change re-ingest, in-process and through the CLI (``ccci-bot ingest``, a new process each time);
* ``/api/why`` p50/p95 over every recipe from a real ``ccci-bot web`` process on 127.0.0.1, after the
  bot's own verdict pass (``Verdicts.decide_again``), so answers carry verdicts as the bot serves them:
  once the web processes' startup scans have ended (as between their scans every ``reports.poll_s``),
  each request sent to both sizes in turn; and apart, the answers given while a startup scan still ran;
* CLI ``why`` with ``--no-ingest`` and with its scan, next to a bare ``python -c pass``, with bytecode
  cached as on an install (one untimed call first), even where the environment turns caching off;
  each round runs them on both sizes in turn, so a drift in the machine's speed moves both columns;
* the peak RSS of the ingest workers, read from each worker's own ``/proc/<pid>/status`` (VmHWM)
  while the pool runs: ``RUSAGE_CHILDREN`` never sees them (they are the forkserver's children).

    .venv/bin/python benchmarks/history.py [--small 1000] [--large 50000] [--rounds 5]

The machine is shared: note its load (printed first and last) next to the figures; the ratios
between the columns are the measure, since both columns are taken in the same run.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from ingest import RECIPES, build_history
from measure import WorkerRss, spread

from bot.config import Config, LinksConfig
from bot.ingest.scan import ingest
from bot.kb import load_kb
from bot.store import Store
from bot.verdicts.cache import Verdicts
from bot.verdicts.staletest import GitRecipeSearch
from demo.devserver.process import free_port
from demo.sample.generate import generate

CLI = str(Path(sys.executable).with_name("ccci-bot"))


@dataclass
class Figures:
    """Every round's value of each measure, for one history size."""

    runs: int
    values: dict[str, list[float]] = field(default_factory=dict)
    worker_rss_mb: float = 0.0
    during_scan: list[float] = field(default_factory=list)  # /api/why ms while the web's first scan ran
    config: Config | None = None  # the runs dir and state of this size, once ingested

    def cli_dirs(self) -> list[str]:
        assert self.config is not None
        c = self.config
        return ["--runs-dir", str(c.ccci.runs_dir), "--warm-dir", str(c.ccci.warm_dir), "--data-dir", str(c.data_dir)]

    def add(self, name: str, value: float) -> None:
        self.values.setdefault(name, []).append(value)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def cli_env(work: Path) -> dict[str, str]:
    """The CLI's environment as on an install: bytecode cached (pip compiles at install time), here under
    ``work`` so the checkout stays clean, even where the caller sets PYTHONDONTWRITEBYTECODE."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    return env


CLI_ENV: dict[str, str] | None = None  # set by main() once the work dir is known


def run_cli(argv: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, check=False, env=CLI_ENV)
    seconds = time.perf_counter() - start
    assert done.returncode == 0, (argv, done.stderr[-2000:])
    return seconds


def get(port: int, path: str) -> float:
    return get_body(port, path)[0]


def get_body(port: int, path: str) -> tuple[float, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    start = time.perf_counter()
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    seconds = time.perf_counter() - start
    conn.close()
    assert response.status == 200, (path, response.status, body[:200])
    return seconds, body


def scanned(port: int) -> bool:
    """The web process's first scan has ended: it sets ``last_ingest``, which was cleared before the start."""
    return bool(json.loads(get_body(port, "/healthz")[1])["last_ingest"])


def percentiles(ms: list[float]) -> tuple[float, float]:
    ms = sorted(ms)
    return statistics.median(ms), ms[max(0, int(len(ms) * 0.95) - 1)]


@dataclass
class Web:
    """A real ``ccci-bot web`` on 127.0.0.1 over one history size."""

    fig: Figures
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def alive(self, deadline: float) -> None:
        assert time.monotonic() < deadline and self.proc.poll() is None, self.log.read_text()[-2000:]

    def why_ms(self, recipe: str) -> float:
        return get(self.port, f"/api/why/{recipe}") * 1000


def start_web(fig: Figures, work: Path) -> Web:
    """Start the web process once its store's ``last_ingest`` is cleared (its first scan sets it again)."""
    config = fig.config
    assert config is not None
    store = Store(config.db_path)
    store.meta.set("last_ingest", "")
    store.close()
    port = free_port()
    argv = [CLI, "web", "--listen", f"127.0.0.1:{port}", "--runs-dir", str(config.ccci.runs_dir)]
    argv += ["--warm-dir", str(config.ccci.warm_dir), "--data-dir", str(config.data_dir)]
    log = work / f"web-{port}.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
    web = Web(fig, proc, port, log)
    deadline = time.monotonic() + 600
    while True:
        try:
            get(port, "/healthz")
            return web
        except (OSError, AssertionError):
            web.alive(deadline)
            time.sleep(0.2)


def during_first_scan(web: Web) -> None:
    """Every answer given while the web process's startup scan still runs (a scan of a long history
    competes with the answers for the GIL and the store)."""
    deadline = time.monotonic() + 600
    while not scanned(web.port):
        web.alive(deadline)
        web.fig.during_scan.extend(web.why_ms(recipe) for recipe in RECIPES)


def web_rounds(webs: list[Web], rounds: int) -> None:
    """/api/why p50/p95 over every recipe × 5, ``rounds`` times, once each process's startup scan has
    ended (as between its scans every ``reports.poll_s``). Each request goes to every size in turn,
    so a drift in the machine's speed moves both columns alike."""
    for web in webs:
        for recipe in RECIPES:  # one untimed pass: the connection path and any lazy import
            web.why_ms(recipe)
    for _ in range(rounds):
        ms: dict[int, list[float]] = {web.port: [] for web in webs}
        for recipe in RECIPES:
            for n in range(5):
                for web in webs if n % 2 == 0 else webs[::-1]:  # neither size always goes first
                    ms[web.port].append(web.why_ms(recipe))
        for web in webs:
            p50, p95 = percentiles(ms[web.port])
            web.fig.add("/api/why p50, ms", p50)
            web.fig.add("/api/why p95, ms", p95)


def web_figures(figs: list[Figures], work: Path, rounds: int) -> None:
    """Start the web processes one at a time, each timed while its first scan runs, then time them together."""
    webs: list[Web] = []
    try:
        for fig in figs:
            webs.append(start_web(fig, work))
            during_first_scan(webs[-1])
        web_rounds(webs, rounds)
    finally:
        for web in webs:
            web.proc.terminate()
            web.proc.wait(30)


def measure(templates: list[Path], warm_dir: Path, work: Path, runs: int, rounds: int) -> Figures:
    fig = Figures(runs)
    runs_dir = work / f"runs-{runs}"
    start = time.perf_counter()
    build_history(templates, runs_dir, runs)
    print(f"  {runs} run dirs built in {time.perf_counter() - start:.0f} s", flush=True)
    links = LinksConfig("https://ci.example/runs/{run_id}/{path}")
    later = time.time() + 3600  # every run has settled: it is sealed when read, as on a live node
    config: Config | None = None
    for n in range(rounds):
        data = work / f"state-{runs}-{n}"
        config = Config(data_dir=data, links=links).with_overrides(runs_dir=runs_dir, warm_dir=warm_dir)
        store = Store(config.db_path)
        os.sync()
        with WorkerRss() as rss:
            seconds = timed(lambda: ingest(store, config, now=later))  # noqa: B023 - called at once
        fig.worker_rss_mb = max(fig.worker_rss_mb, rss.peak)
        fig.add("full ingest, ms per run", seconds / runs * 1000)
        fig.add("re-ingest, nothing new (in-process), s", timed(lambda: ingest(store, config, now=later)))  # noqa: B023
        store.close()
        if n < rounds - 1:
            shutil.rmtree(data)
    assert config is not None
    store = Store(config.db_path)
    Verdicts(store, config, load_kb(config.knowledge.dirs), GitRecipeSearch()).decide_again()  # as the bot does
    store.close()
    fig.config = config
    return fig


def cli_rounds(figs: list[Figures], rounds: int) -> None:
    """The CLI figures, each round taking every history size in turn, in alternating order: a drift in
    the machine's speed (it is shared) then moves both columns of a ratio alike."""
    for fig in figs:
        run_cli([CLI, "why", "mumble", "--no-ingest", *fig.cli_dirs()])  # untimed: writes the bytecode cache once
    for n in range(rounds):
        for fig in figs if n % 2 == 0 else figs[::-1]:  # neither size always goes first
            common = fig.cli_dirs()
            fig.add("re-ingest, nothing new (CLI `ingest`), s", run_cli([CLI, "ingest", *common]))
            fig.add("CLI `why --no-ingest`, s", run_cli([CLI, "why", "mumble", "--no-ingest", *common]))
            fig.add("CLI `why` (with its scan), s", run_cli([CLI, "why", "mumble", *common]))
            fig.add("bare `python -c pass`, s", run_cli([sys.executable, "-c", "pass"]))


def load() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="ccci-history-"))
    work.mkdir(parents=True, exist_ok=True)
    global CLI_ENV
    CLI_ENV = cli_env(work)
    print(f"load average at start: {load()} on {os.cpu_count()} cores", flush=True)
    try:
        sample = generate(work / "sample")
        templates = [p for p in sorted(sample.runs_dir.iterdir()) if (p / "results.json").exists()]
        small = measure(templates, sample.warm_dir, work, args.small, args.rounds)
        large = measure(templates, sample.warm_dir, work, args.large, args.rounds)
        cli_rounds([small, large], args.rounds)
        web_figures([small, large], work, args.rounds)
        print(f"load average at end: {load()}")
        print()
        head = f"{'median [min–max] of ' + str(args.rounds) + ' rounds':<44}"
        print(f"{head} {small.runs:>22,} runs {large.runs:>22,} runs   ratio")
        for name, values in small.values.items():
            ratio = statistics.median(large.values[name]) / statistics.median(values)
            print(f"{name:<44} {spread(values):>27} {spread(large.values[name]):>27}   {ratio:5.2f}×")
        bare = statistics.median(large.values["bare `python -c pass`, s"])
        no_ingest = statistics.median(large.values["CLI `why --no-ingest`, s"])
        with_scan = statistics.median(large.values["CLI `why` (with its scan), s"])
        print(f"CLI `why --no-ingest` / bare python start (large): {no_ingest / bare:.1f}×")
        print(f"CLI `why` with its scan / `--no-ingest` (large):   {with_scan / no_ingest:.2f}×")
        for fig in (small, large):
            if fig.during_scan:
                p50, p95 = percentiles(fig.during_scan)
                print(
                    f"/api/why while the web's first scan ran ({fig.runs:,} runs): p50 {p50:.2f} ms, p95 {p95:.2f} ms"
                    f" over {len(fig.during_scan)} requests"
                )
            else:
                print(f"/api/why while the web's first scan ran ({fig.runs:,} runs): the scan ended first")
        print(
            f"peak RSS of an ingest worker: {small.worker_rss_mb:.0f} MB (small), {large.worker_rss_mb:.0f} MB (large)"
        )
        print(json.dumps({"small": small.values, "large": large.values}), file=sys.stderr)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
