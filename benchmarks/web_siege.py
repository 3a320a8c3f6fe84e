"""Slow clients against `ccci-bot web` (issue 25 item 8): /healthz latency while N connections sit on
half-sent headers, how much the server logs meanwhile, and how long the stalled connections live.

Runs `ccci-bot web` as a real process on 127.0.0.1 with its open-files limit set to --open-files (soft
and hard, so it cannot raise it: systemd's default soft limit is 1,024), then opens --stalled raw
connections that each send half a request's headers and stop. `--checkout DIR` runs another source
tree's `bot` (e.g. an export of the commit before the fix) for a before/after comparison.

    .venv/bin/python benchmarks/web_siege.py [--open-files 1024] [--stalled 1100] [--checkout DIR]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))

from tests.web_siege import PARTIAL_HEADERS, close_all, get, start_web, wait_closed_by_server


def healthz_latencies(port: int, times: int, timeout: float) -> tuple[list[float], int]:
    """Seconds per answered /healthz (a new connection each), and how many got no 200 within ``timeout``."""
    answered: list[float] = []
    failed = 0
    for _ in range(times):
        try:
            status, seconds = get(port, timeout=timeout)
        except OSError:
            failed += 1
            continue
        if status == 200:
            answered.append(seconds)
        else:
            failed += 1
    return answered, failed


def summary(latencies: list[float], failed: int) -> str:
    if not latencies:
        return f"no answer ({failed} timed out or refused)"
    ms = sorted(x * 1000 for x in latencies)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    text = f"p50 {statistics.median(ms):6.1f} ms   p95 {p95:6.1f} ms   max {ms[-1]:6.1f} ms"
    return text + (f"   ({failed} without an answer)" if failed else "")


def stall_many(port: int, count: int) -> tuple[list[socket.socket], int]:
    """Like tests.web_siege.stall, but stops after 5 connects in a row fail (a server that stopped accepting)."""
    opened: list[socket.socket] = []
    failed = streak = 0
    for _ in range(count):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5.0)
            sock.sendall(PARTIAL_HEADERS)
        except OSError:
            failed += 1
            streak += 1
            if streak >= 5:
                failed = count - len(opened)  # the rest would fail too
                break
            continue
        streak = 0
        opened.append(sock)
    return opened, failed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--open-files", type=int, default=1024)
    parser.add_argument("--stalled", type=int, default=1100)
    parser.add_argument("--requests", type=int, default=50, help="/healthz requests per measurement")
    parser.add_argument("--checkout", type=Path, default=None)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, args.stalled + 512)), hard))
    work = Path(tempfile.mkdtemp(prefix="ccci-web-siege-"))
    runs = work / "runs"
    runs.mkdir()
    server = start_web(work, runs, args.open_files, "reports:\n  poll_s: 1\n", args.checkout)
    try:
        print(f"ccci-bot web ({args.checkout or 'this checkout'}), open-files limit {args.open_files}")
        print(f"{'/healthz, no siege':<44} {summary(*healthz_latencies(server.port, args.requests, 10))}")
        log_before = server.log.stat().st_size
        siege_start = time.monotonic()
        socks, failed = stall_many(server.port, args.stalled)
        opened_s = time.monotonic() - siege_start
        print(f"stalled connections: {len(socks)} open, {failed} could not connect ({opened_s:.1f} s to open)")
        print(
            f"{f'/healthz under {len(socks)} stalled':<44} "
            + summary(*healthz_latencies(server.port, args.requests, 10))
        )
        start = time.monotonic()
        closed = wait_closed_by_server(socks, timeout=30)
        closed_s = time.monotonic() - start
        close_all(socks)
        print(f"stalled connections closed by the server: {closed} of {len(socks)} within {closed_s:.1f} s more")
        siege_s = time.monotonic() - siege_start
        grown = server.log.stat().st_size - log_before
        lines = server.log_lines()
        print(f"server log during the siege: {grown:,} bytes in {siege_s:.0f} s; {len(lines)} lines in all:")
        for line in lines[:6]:
            print(f"    {line[:160]}")
        print(f"{'/healthz after the siege':<44} {summary(*healthz_latencies(server.port, args.requests, 10))}")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
