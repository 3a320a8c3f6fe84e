"""Log-paging benchmark: how fast a page of a 1 GiB runner log opens, cold (no index) and warm.

Writes a log of realistic runner lines (a 1 MiB block repeated), then prints the time for the first
page, a page around a line near the middle and the tail, each cold (index cache cleared) and warm,
and the growth of peak RSS (VmHWM) over all of it. The file was just written, so it is in the page
cache: on a cold disk add the time to read the bytes counted.

    .venv/bin/python benchmarks/weblog.py [--gib 1] [--work DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bot.web import logview
from bot.web.logview import LogPage, page_around, read_page, read_tail

LINES = [
    "2026-06-14T03:00:05Z INFO  runner: deploying recipe mumble 1.0.0+v1.6.870-0 to swarm node ci-1",
    "2026-06-14T03:00:06Z DEBUG abra: app deploy mumble.ci.example.org --chaos --no-input",
    "tests/mumble/test_install.py::test_deploys PASSED                                  [ 12%]",
    "2026-06-14T03:00:09Z INFO  runner: waiting for service mumble_app (1/1 replicas)",
    "E       AssertionError: tasks rejected: {'app': 'manifest for mumble:1.6 not found: manifest unknown'}",
    "",
    "_______________________ test_handshake_completes_with_channel_presence _______________________",
]


def make_block() -> bytes:
    """About 1 MiB of whole lines."""
    out = bytearray()
    i = 0
    while len(out) < (1 << 20):
        out += f"{LINES[i % len(LINES)]} #{i}\n".encode()
        i += 1
    return bytes(out)


def write_log(path: Path, gib: float) -> int:
    block = make_block()
    n = int(gib * 1024)
    with path.open("wb") as f:
        for _ in range(n):
            f.write(block)
    return block.count(b"\n") * n


def vm_hwm_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def timed(label: str, call: Callable[[], LogPage]) -> LogPage:
    began = time.perf_counter()
    page = call()
    ms = (time.perf_counter() - began) * 1000
    total = "?" if page.total_lines is None else f"{page.total_lines:,}"
    print(f"  {label:<34} {ms:9.1f} ms   lines {page.first_line:,}..{page.last_line:,} of {total}")
    return page


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--work", type=Path, default=None, help="dir for the log (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        log = Path(tmp) / "run.log"
        began = time.perf_counter()
        lines = write_log(log, args.gib)
        size = log.stat().st_size
        print(f"log: {size / 2**30:.2f} GiB, {lines:,} lines, written in {time.perf_counter() - began:.1f} s")
        middle = lines // 2 + 123
        hwm = vm_hwm_kib()

        logview.clear_cache()
        timed("read_page(line 1), cold", lambda: read_page(log, 1))
        timed(f"page_around({middle:,}), cold", lambda: page_around(log, middle))
        timed(f"page_around({middle:,}), warm", lambda: page_around(log, middle))
        timed("read_tail, cold from the middle", lambda: read_tail(log))
        timed("read_tail, warm", lambda: read_tail(log))
        logview.clear_cache()
        timed("read_tail, cold (no index)", lambda: read_tail(log))
        timed("read_page(line 1), warm", lambda: read_page(log, 1))
        timed(f"page_around({middle:,}), after tail", lambda: page_around(log, middle))
        index = logview.cached_index(log)
        if index is not None:
            print(f"  index: {index.entries:,} entries for {lines:,} lines")
        print(f"peak RSS growth: {(vm_hwm_kib() - hwm) / 1024:.1f} MiB (VmHWM {vm_hwm_kib() / 1024:.1f} MiB)")


if __name__ == "__main__":
    main()
