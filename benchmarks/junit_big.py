"""JUnit reading benchmark: a 100 MB file whose one failure carries a 50 MB message attribute.

Expat before 2.6 re-scans a token that spans several feeds from its start on every feed, so reading
such a file in ElementTree's fixed 64 KiB pieces is quadratic in the attribute's size. This prints the
time of :func:`bot.artifacts.junit.read_junit` (doubling feeds) for 25, 50 and 100 MB files, and, with
``--compare``, of the plain ``ElementTree.parse`` through defusedxml that read_junit used before
(about a minute at 100 MB on the project's machine).

    .venv/bin/python benchmarks/junit_big.py [--compare] [--work DIR]
"""

from __future__ import annotations

import argparse
import pyexpat
import tempfile
import time
from pathlib import Path

import defusedxml.ElementTree as SafeET

from bot.artifacts.junit import read_junit

MIB = 1024 * 1024


def write(path: Path, total_mib: int) -> None:
    """Half the file is one failure message (attribute and text), the rest captured output."""
    message = "E" * (total_mib * MIB // 2)
    with path.open("w", encoding="utf-8") as f:
        f.write('<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="2">')
        f.write(f'<testcase classname="t" name="test_big" time="1.0"><failure message="{message}">x</failure>')
        f.write("</testcase>")
        f.write('<testcase classname="t" name="test_out" time="1.0"><system-out>')
        line = "captured output line\n"
        f.write(line * ((total_mib * MIB // 2) // len(line)))
        f.write("</system-out></testcase></testsuite></testsuites>")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--compare", action="store_true", help="also time the old ElementTree.parse (slow)")
    ap.add_argument("--work", type=Path, default=None)
    args = ap.parse_args()
    print(f"expat {pyexpat.EXPAT_VERSION}")
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        for size in (25, 50, 100):
            path = Path(tmp) / f"custom__cc-ci__big{size}.xml"
            write(path, size)
            t = time.perf_counter()
            parsed = read_junit(path, f"junit/{path.name}")
            took = time.perf_counter() - t
            kept = max(len(c.message) for c in parsed.tests)
            rate = size / took
            print(f"read_junit {size:>3} MB: {took:6.2f} s ({rate:6.1f} MB/s), message kept {kept:,} chars")
            if args.compare:
                t = time.perf_counter()
                SafeET.parse(str(path))
                print(f"  ElementTree.parse (before): {time.perf_counter() - t:6.2f} s")
            path.unlink()


if __name__ == "__main__":
    main()
