"""`learn`'s green-run check over a large history: every green run's log and JUnit file searched for a
taught pattern (bot.learn.greens.check_greens, as `learn` calls it after reading the green runs from the
store).

Synthetic run dirs are written under a temporary dir: ``--runs`` of them (default 50,000), each with a
runner log of about ``--log-kb`` KiB (cc-ci's shape: tier headers, abra and pytest lines with ids, times
and versions) and one JUnit file of passing testcases. Three patterns are timed, each the median of
``--rounds`` rounds with min and max:

* ``none``: a pattern that matches no green run (the case `learn` accepts: every file read to its end);
* ``rare``: matches one run in a thousand (all still read; the count is what `learn` reports);
* ``everywhere``: matches one of the first lines of every log (each run stops at its first match).

Wall time and this process's CPU time are both printed: on a shared machine the CPU time is the steadier
figure. The files were just written, so they are read from the page cache: the figures are the check's own cost
(open, bounded reads, UTF-8 decoding, RE2), not the disk's.

    .venv/bin/python benchmarks/learn.py [--runs 50000] [--log-kb 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bot.artifacts.layout import Layout
from bot.learn.greens import check_greens
from bot.linear_regex import LinearPattern, compile_signature

LAYOUT = Layout("results.json", "run.log", "junit", "canonical.json")
TIERS = ("install", "upgrade", "backup", "restore", "custom")
PATTERNS = {
    "none": r"manifest for \S+ not found: manifest unknown",
    "rare": r"RARE-MARKER-\d+",
    "everywhere": r"(?m)^\[\d{4}-\d\d-\d\dT",
}


def log_text(rng: random.Random, run: int, kib: int) -> str:
    lines: list[str] = []
    size = 0
    n = 0
    while size < kib * 1024:
        tier = TIERS[(n // 40) % len(TIERS)]
        n += 1
        kind = rng.randrange(4)
        if kind == 0:
            line = f"[2026-06-14T03:{n % 60:02d}:{rng.randrange(60):02d}Z] === tier {tier} (cc-ci) ==="
        elif kind == 1:
            line = (
                f"[2026-06-14T03:{n % 60:02d}:05Z] abra app deploy recipe-{run % 13}.ci.example.org "
                f"--chaos 1.{rng.randrange(9)}.{rng.randrange(20)}+{rng.randrange(30)}.0 svc {rng.getrandbits(48):x}"
            )
        elif kind == 2:
            line = f"tests/{tier}/test_{tier}.py::test_case_{rng.randrange(50)} PASSED [{rng.randrange(100):3d}%]"
        else:
            line = f"  ok: service {rng.getrandbits(32):08x} converged in {rng.random() * 30:.2f}s (replicas 1/1)"
        lines.append(line)
        size += len(line) + 1
    if run % 1000 == 7:
        lines.insert(len(lines) // 2, f"note RARE-MARKER-{run}")
    return "\n".join(lines) + "\n"


def junit_text(run: int) -> str:
    cases = "".join(
        f'<testcase classname="tests.r{run % 13}.test_{t}" name="test_{t}_works" time="0.{run % 9}"/>' for t in TIERS
    )
    return f'<?xml version="1.0"?><testsuites><testsuite name="pytest" tests="5">{cases}</testsuite></testsuites>\n'


def build(root: Path, runs: int, kib: int) -> list[tuple[str, str, str]]:
    rng = random.Random(23)
    made = []
    for i in range(runs):
        run_dir = root / f"run-{i:06d}"
        (run_dir / "junit").mkdir(parents=True)
        (run_dir / "run.log").write_text(log_text(rng, i, kib))
        (run_dir / "junit" / "custom__cc-ci__test_custom.xml").write_text(junit_text(i))
        made.append((f"run-{i:06d}", f"recipe-{i % 13}", str(run_dir)))
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50_000)
    parser.add_argument("--log-kb", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ccci-learn-bench-"))
    try:
        started = time.perf_counter()
        runs = build(root, args.runs, args.log_kb)
        total = sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
        print(f"load {os.getloadavg()[0]:.2f}; {args.runs:,} green runs, {total / 2**20:,.0f} MiB of logs and JUnit")
        print(f"  written in {time.perf_counter() - started:.1f} s under {root}")
        for name, text in PATTERNS.items():
            pattern = compile_signature(text)
            assert isinstance(pattern, LinearPattern), pattern
            times, cpu, matched = [], [], 0
            for _ in range(args.rounds):
                before = time.process_time()
                check = check_greens(runs, LAYOUT, pattern)
                cpu.append(time.process_time() - before)
                times.append(check.seconds)
                matched = check.matched
                assert check.checked == args.runs and not check.unreadable
            med = statistics.median(times)
            print(
                f"  {name:<10} {med:6.2f} s (min {min(times):.2f}, max {max(times):.2f};"
                f" CPU {statistics.median(cpu):.2f} s); "
                f"{args.runs / med:,.0f} runs/s, {total / 2**20 / med:,.0f} MiB/s; matched {matched:,} runs"
            )
        print(f"load {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
