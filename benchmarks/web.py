"""Evidence pages: time to first byte of a log page for a 1 GiB log, and the weight of `/`.

Runs `ccci-bot web` as a real process on 127.0.0.1 over the generated sample, with one red run's log
grown to 1 GiB (the real log at the end, so the failure line the page opens on is ~1 GiB in).

    .venv/bin/python benchmarks/web.py [--log-gib 1]
"""

from __future__ import annotations

import argparse
import http.client
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from ingest import write_big_log

from bot.masking import Masker
from bot.web import logview
from demo.devserver.process import free_port
from demo.sample.generate import generate


def ttfb(port: int, path: str, gzip_ok: bool = False) -> tuple[float, float, int]:
    """(seconds to the first byte of the body, seconds to the last, body bytes), one redirect followed."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    start = time.perf_counter()
    conn.request("GET", path, headers={"Accept-Encoding": "gzip"} if gzip_ok else {})
    response = conn.getresponse()
    if response.status == 302:  # a log opens on its failure line by a redirect: follow it, time included
        location = response.getheader("Location") or "/"
        response.read()
        conn.request("GET", location.split("#", 1)[0])
        response = conn.getresponse()
    first = response.read(1)
    t_first = time.perf_counter() - start
    rest = response.read()
    t_all = time.perf_counter() - start
    conn.close()
    assert response.status == 200, (path, response.status)
    return t_first, t_all, len(first) + len(rest)


def ttfb_location(port: int, path: str) -> str | None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("GET", path)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.getheader("Location")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--log-gib", type=float, default=1.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ccci-web-bench-"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        sample = generate(work / "sample")
        red = next(r for r in sample.runs if r.recipe == "outline" and r.red and r.kind == "sweep")
        size = write_big_log(sample.runs_dir / red.run_id / "run.log", args.log_gib)
        port = free_port()
        argv = [sys.executable, "-m", "bot.cli", "web", "--listen", f"127.0.0.1:{port}"]
        argv += ["--runs-dir", str(sample.runs_dir), "--warm-dir", str(sample.warm_dir), "--data-dir", str(work / "d")]
        server_log = work / "web.log"
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=server_log.open("wb"))
        deadline = time.monotonic() + 120
        while True:  # until the first scan has read the run with the big log
            try:
                ttfb(port, f"/api/runs/{red.run_id}")
                break
            except (OSError, AssertionError):
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.2)
        print(f"log: {size / (1 << 30):.2f} GiB ({red.run_id})")
        while "counted the logs" not in server_log.read_text():  # the bot's warm-up after ingest is over
            assert time.monotonic() < deadline + 300 and proc.poll() is None
            time.sleep(0.1)
        warmup = next(x for x in server_log.read_text().splitlines() if "counted the logs" in x)
        print(f"warm-up after ingest: {warmup.split('] ', 1)[-1].split(': ', 1)[-1]}")
        base = f"/runs/{red.run_id}/log"
        line = int((ttfb_location(port, base) or "line=1").split("line=", 1)[1].split("#", 1)[0])
        logview.clear_cache()  # what a reader arriving before the warm-up would pay, measured in-process
        start = time.perf_counter()
        logview.page_around(sample.runs_dir / red.run_id / "run.log", line, 500)
        counted = (time.perf_counter() - start) * 1000
        print(f"{'counting to the failure line (no warm-up, in-process)':<52} {counted:7.1f} ms")
        for label, path in (
            ("log page at the failure, after the warm-up", base),
            ("log page 1", f"{base}?start=1"),
            ("log page in the middle", f"{base}?start=6000000"),
            ("log tail", f"{base}?tail=1"),
        ):
            first, total, nbytes = ttfb(port, path)
            print(f"{label:<52} TTFB {first * 1000:7.1f} ms   whole page {total * 1000:7.1f} ms   {nbytes:,} B")
        _, _, plain = ttfb(port, "/")
        _, _, zipped = ttfb(port, "/", gzip_ok=True)
        print(
            f"page weight of /: {plain:,} B uncompressed, {zipped:,} B with gzip; one request (inline CSS, no scripts)"
        )
        plain_secrets = [f"secret-value-{i:04d}-{'k' * (i % 17)}" for i in range(200)]
        # characters HTML, JSON and URLs escape: each such secret is searched in up to 7 spellings
        escaped_secrets = [f"s&cr<t\"{i:04d}/+'{'k' * (i % 17)}" for i in range(200)]
        for label, secrets in (("", plain_secrets), (" (secrets with & < \" / + ')", escaped_secrets)):
            masker = Masker(secrets)
            page = "\n".join(f"2026-06-14T03:21:40Z INFO runner: step {i} of the deploy converged" for i in range(499))
            page += f"\nexport TOKEN={secrets[123]}"  # one secret on the page
            start = time.perf_counter()
            for _ in range(200):
                masker.mask(page)
            per_page_ms = (time.perf_counter() - start) / 200 * 1000
            print(f"masking a 500-line page holding one of 200 secrets{label}: {per_page_ms:.2f} ms")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(20)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
