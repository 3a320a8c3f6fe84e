"""Registry probe benchmark: what one look-up costs against a real registry on 127.0.0.1 (Debian's
docker-registry), without auth and with token auth (the token service stand-in), and what the runner's
cache makes of a report of fifty reds naming one tag, or naming fifty tags on a registry that does not
answer (asked once, one warning). A registry on the internet adds its round trips
(one HEAD, or HEAD + token GET + HEAD); these figures are the bot's own part.

    .venv/bin/python benchmarks/probes.py [--rounds 50]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))

from benchmarks.measure import spread
from bot.model.records import Category
from bot.probes.records import Clue, Outcome
from bot.probes.registry import RegistryProbe
from bot.probes.runner import ProbeRunner
from demo.devserver.process import free_port
from demo.devserver.registry import LocalRegistry, TokenServiceStandIn


def clue(ref: str) -> Clue:
    return Clue(
        f"manifest for {ref} not found: manifest unknown", (("image-manifest-unknown", Category.UPSTREAM_DEFECT),)
    )


def look_ups(probe: RegistryProbe, ref: str, rounds: int, want: Outcome) -> list[float]:
    [subject] = probe.subjects(clue(ref))
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        found = probe.check(subject, 10.0)
        times.append((time.perf_counter() - start) * 1000)
        assert found.outcome is want, found
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        with LocalRegistry(Path(tmp) / "plain") as registry:
            registry.push("app/x", "1.0")
            probe = RegistryProbe(Path(tmp) / "none.json", [registry.host])
            present = look_ups(probe, f"{registry.host}/app/x:1.0", args.rounds, Outcome.PRESENT)
            print(f"look-up, no auth, present (ms):  {spread(present)}")
            absent = look_ups(probe, f"{registry.host}/app/x:2.0", args.rounds, Outcome.ABSENT)
            print(f"look-up, no auth, absent (ms):   {spread(absent)}")
            runner = ProbeRunner([probe], timeout_s=10.0, cache_s=300.0)
            start = time.perf_counter()
            for _ in range(50):
                runner.run([clue(f"{registry.host}/app/x:2.0")])
            total = (time.perf_counter() - start) * 1000
            print(
                f"fifty reds naming one tag: {total:.1f} ms in all, {runner.asked} look-up, "
                f"{registry.requests('HEAD', '/v2/app/x/manifests/2.0') - args.rounds} HEAD to the registry"
            )
        closed = f"127.0.0.1:{free_port()}"  # nothing listens: connection refused
        runner = ProbeRunner([RegistryProbe(Path(tmp) / "none.json", [closed])], timeout_s=10.0, cache_s=300.0)
        start = time.perf_counter()
        for tag in range(50):
            runner.run([clue(f"{closed}/app/x:{tag}")])
        total = (time.perf_counter() - start) * 1000
        print(f"fifty reds naming fifty tags on a registry not answering: {total:.1f} ms, {runner.asked} look-up")
        standin = TokenServiceStandIn(Path(tmp) / "token", {}, public=frozenset({"pub/app"}))
        standin.start()
        try:
            with LocalRegistry(Path(tmp) / "token", token=standin) as registry:
                granted = standin.token("ops", [{"type": "repository", "name": "pub/app", "actions": ["pull", "push"]}])
                registry.push("pub/app", "1.0", headers={"Authorization": f"Bearer {granted}"})
                probe = RegistryProbe(Path(tmp) / "none.json", [registry.host, f"127.0.0.1:{standin.port}"])
                times = look_ups(probe, f"{registry.host}/pub/app:1.0", args.rounds, Outcome.PRESENT)
                print(f"look-up, token auth (HEAD, token, HEAD) (ms): {spread(times)}")
        finally:
            standin.stop()


if __name__ == "__main__":
    main()
