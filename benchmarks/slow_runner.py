"""A benchmark-only runner: replays a real run dir (JUnit made by really running pytest) tier by tier,
a few seconds apart, logging when each JUnit file landed — so the bot's watcher latency can be measured.

    RUN_ID=… CCCI_RUNS_DIR=… TEMPLATE=<run dir> STAMPS=<file> GAP_S=3 python benchmarks/slow_runner.py
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path


def main() -> None:
    template = Path(os.environ["TEMPLATE"])
    target = Path(os.environ["CCCI_RUNS_DIR"]) / os.environ["RUN_ID"]
    stamps = Path(os.environ["STAMPS"])
    gap = float(os.environ.get("GAP_S", "3"))
    rng = random.Random(7)
    (target / "junit").mkdir(parents=True)
    started = datetime.now(UTC)
    shutil.copy(template / "run.log", target / "run.log")
    with stamps.open("a") as out:
        for xml in sorted((template / "junit").glob("*.xml"), key=lambda p: p.name):
            # A tier takes time (that is what is simulated), and not in step with the watcher's clock.
            time.sleep(gap * rng.uniform(0.5, 1.5))
            tmp = target / "junit" / (xml.name + ".tmp")
            shutil.copy(xml, tmp)
            tmp.rename(target / "junit" / xml.name)
            out.write(f"{xml.name} {time.time()}\n")
            out.flush()
    data = json.loads((template / "results.json").read_text())
    data.update(run_id=target.name, started=started.isoformat(), finished=datetime.now(UTC).isoformat())
    (target / "results.json.tmp").write_text(json.dumps(data))
    (target / "results.json.tmp").rename(target / "results.json")


if __name__ == "__main__":
    main()
