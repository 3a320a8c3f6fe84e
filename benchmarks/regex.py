"""Regular expressions against hostile run-dir text (issue 25, items 6 and 7): seconds per reader as the
hostile input doubles. A reader that backtracks shows ×4 (quadratic) or more per doubling; a linear one ×2
or less (at these sizes the fixed cost of a call often hides the growth).

Each measurement runs in a child process with a time limit, so a reader that hangs is reported as
"> LIMIT s" instead of stopping the benchmark; a case stops growing after its first measurement over
``--budget``. ``--issue`` adds the two reproductions of the issue: 60 failing testcases whose ``E`` line is
``assert x`` + 19,960 spaces + ``y`` (the assertion reader on each), and the knowledge-base signature
``^(\\w+\\s?)+$`` against a 156-character failure message. A figure under 0.2 s is the median of 5 calls.

``--ordinary`` prints what linear time costs on ordinary text: CPU time per failure of the assertion
reader, cluster key, shared machinery and JUnit name over the 28 real failure shapes of
tests/test_assertions.py (JUnit from running them with pytest); RE2's calls cost more than ``re``'s.

    .venv/bin/python benchmarks/regex.py [--budget 2] [--limit 60] [--issue] [--ordinary]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# Only public entry points and long-standing module functions, so the same script times the code before
# and after the change.


def _assertion(message: str, body: str = "") -> Callable[[], object]:
    from bot.verdicts.assertions import parse_expectation

    return lambda: parse_expectation("test_x", message, body)


def _kb(pattern: str, text: str) -> Callable[[], object]:
    from bot.kb import parse_signature

    raw = {
        "id": "operator-pattern",
        "category": "infra",
        "description": "an operator's pattern",
        "match": [{"failure": pattern}],
        "examples": {"match": ["word"], "no_match": ["!"]},
    }
    sig = parse_signature(raw, "bench")
    return lambda: sig.matches_failure(text)


_WORK: list[tempfile.TemporaryDirectory[str]] = []


def _work() -> tempfile.TemporaryDirectory[str]:
    """Where the log cases write their run dirs; removed when the process ends."""
    if not _WORK:
        _WORK.append(tempfile.TemporaryDirectory(prefix="regex-bench-"))
    return _WORK[0]


def _log_tail(line: str) -> Callable[[], object]:
    from bot.artifacts.logtail import read_tail

    run = Path(tempfile.mkdtemp(dir=_work().name))
    (run / "run.log").write_text(line + "\n")
    return lambda: read_tail(run, "run.log")


def _classname(classname: str) -> Callable[[], object]:
    from bot.artifacts import rundir
    from bot.model.records import TestCase, TestStatus

    case = TestCase("custom", "cc-ci", "test_x", classname, TestStatus.FAIL, 0, "junit/x.xml")
    return lambda: rundir._recipe({}, Path("/nonexistent"), [case])


def _normalize(text: str) -> Callable[[], object]:
    from bot.verdicts.clusters import normalize

    return lambda: normalize(text)


def _machinery(text: str) -> Callable[[], object]:
    from bot.verdicts.clusters import machinery

    return lambda: machinery("custom", text)


# name -> (what the input is, sizes, input of size n -> the call)
CASES: dict[str, tuple[str, list[int], Callable[[int], Callable[[], object]]]] = {
    "assert-spaces": (
        "E line 'assert x' + n spaces + 'y'",
        [1000, 2000, 4000, 8000, 16000],
        lambda n: _assertion("", "E       AssertionError: assert x" + " " * n + "y"),
    ),
    "ne-spaces": (
        "'x != y' + n spaces + 'z'",
        [1000, 2000, 4000, 8000, 16000],
        lambda n: _assertion("x != y" + " " * n + "z"),
    ),
    "blank-lines": ("n newlines, then 'x'", [1000, 2000, 4000, 8000, 16000], lambda n: _assertion("\n" * n + "x")),
    "hamcrest-spaces": (
        "'Expected: x' + n spaces + 'y', then a but: line",
        [1000, 2000, 4000, 8000, 16000],
        lambda n: _assertion("Expected: x" + " " * n + "y\n     but: was z"),
    ),
    "diff-lines": (
        "a cut 'assert' line over a diff of n/10 lines '  - x/y:1' (pytest's string diff, read line by line)",
        [16000, 32000, 64000, 128000, 256000],
        lambda n: _assertion("assert 'a...b' == 'c...d'\n" + "  - x/y:1\n" * (n // 10)),
    ),
    "indented-asserts": (
        "n/28 lines '    assert 'a...' == 'b...'' (each could start a diff that reads the rest)",
        [16000, 32000, 64000, 128000, 256000],
        lambda n: _assertion("    assert 'a...' == 'b...'\n" * (n // 28)),
    ),
    "cluster-host": (
        "'a-' repeated to n chars",
        [1000, 2000, 4000, 8000, 16000],
        lambda n: _normalize("a-" * (n // 2)),
    ),
    "cluster-machinery": (
        "'task' repeated to n chars",
        [1000, 2000, 4000, 8000, 16000],
        lambda n: _machinery("task" * (n // 4)),
    ),
    "logtail-start": (
        "one log line '--junitxml=' + 'install__a' repeated to n chars",
        [1000, 2000, 4000, 8000, 16000],
        lambda n: _log_tail("--junitxml=" + "install__a" * (n // 10)),
    ),
    "logtail-end": (
        "one log line 'tier install ' repeated to n chars",
        [16000, 32000, 64000, 128000, 256000],
        lambda n: _log_tail("tier install " * (n // 13)),
    ),
    "junit-classname": (
        "a classname 'tests.' repeated to n chars",
        [4000, 8000, 16000, 32000, 64000],
        lambda n: _classname("tests." * (n // 6)),
    ),
    "kb-nested": (
        "signature ^(\\w+\\s?)+$ against n letters and '!'",
        [16, 18, 20, 22, 24, 26],
        lambda n: _kb(r"^(\w+\s?)+$", "a" * n + "!"),
    ),
}


def measure_one(case: str, n: int) -> float:
    """Seconds of one call (the input is built first, outside the time), after a call on a tiny input (the
    readers compile their patterns on first use); a fast call is repeated and its median given."""
    make = ISSUE[case] if case in ISSUE else CASES[case][2]
    make(12)()
    call = make(n)
    times: list[float] = []
    while len(times) < 5:
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
        if times[0] > 0.2:
            break
    return statistics.median(times)


def _issue_assert(n: int) -> Callable[[], object]:
    calls = [_assertion("", "E       AssertionError: assert x" + " " * n + "y") for _ in range(60)]
    return lambda: [c() for c in calls]


ISSUE: dict[str, Callable[[int], Callable[[], object]]] = {
    "issue-60-testcases": _issue_assert,  # n = 19,960 spaces each
    "issue-kb-156": lambda n: _kb(r"^(\w+\s?)+$", "a" * (n - 1) + "!"),  # n = 156 characters
}


def ordinary() -> str:
    """Median [min–max] CPU µs per ordinary failure over 21 rounds (process time: the machine is shared)."""
    from bot.artifacts.junit import read_junit, tier_and_source
    from bot.verdicts.assertions import parse_expectation
    from bot.verdicts.clusters import machinery, normalize

    sys.path.insert(0, str(Path(__file__).parent.parent))  # tests.*: JUnit made by running pytest
    from tests.junit_maker import run_pytest_junit
    from tests.test_assertions import SUITE

    junit = run_pytest_junit(Path(_work().name) / "shapes", "upgrade__cc-ci__test_upgrade", SUITE)
    cases = [(t.name, t.message, t.text) for t in read_junit(junit, junit.name).tests]

    def one_round() -> None:
        for name, message, text in cases:
            parse_expectation(name, message, text)
            normalize(message)
            machinery("upgrade", message)
            tier_and_source(junit.name)

    one_round()
    rounds = []
    for _ in range(21):
        start = time.process_time()
        one_round()
        rounds.append((time.process_time() - start) / len(cases) * 1e6)
    spread = f"{statistics.median(rounds):.0f} µs [{min(rounds):.0f}–{max(rounds):.0f}]"
    return f"{len(cases)} failures: {spread} per failure"


def timed(case: str, n: int, limit: float) -> float | None:
    """The child's figure, or None when it ran past ``limit`` seconds."""
    try:
        done = subprocess.run(
            [sys.executable, __file__, "--one", case, str(n)], capture_output=True, text=True, timeout=limit, check=True
        )
    except subprocess.TimeoutExpired:
        return None
    return float(done.stdout.strip().splitlines()[-1])


def show(seconds: float | None, limit: float) -> str:
    return f"> {limit:.0f} s" if seconds is None else f"{seconds:.4f} s"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=float, default=2.0, help="stop growing a case after a figure over this")
    ap.add_argument("--limit", type=float, default=60.0, help="a child running longer is stopped (a hang)")
    ap.add_argument("--issue", action="store_true", help="also the issue's two reproductions")
    ap.add_argument("--ordinary", action="store_true", help="only the CPU time per ordinary failure")
    ap.add_argument("--one", nargs=2, metavar=("CASE", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(measure_one(args.one[0], int(args.one[1])))
        return
    if args.ordinary:
        print(f"ordinary text: {ordinary()}")
        return
    for name, (what, sizes, _) in CASES.items():
        print(f"{name}: {what}")
        previous: float | None = None
        for n in sizes:
            got = timed(name, n, args.limit)
            growth = f"  ×{got / previous:.1f}" if got is not None and previous else ""
            print(f"  n={n:>7,}  {show(got, args.limit)}{growth}", flush=True)
            if got is None or got > args.budget:
                break
            previous = got
    if args.issue:
        for name, n in (("issue-60-testcases", 19_960), ("issue-kb-156", 156)):
            print(f"{name} (n={n:,}): {show(timed(name, n, args.limit), args.limit)}", flush=True)


if __name__ == "__main__":
    main()
