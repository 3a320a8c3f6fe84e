"""A stand-in for cc-ci's runner: it plays cc-ci's role for the sample data; it is not cc-ci.

It lays out one run the way cc-ci's `run_recipe_ci.py` does (docs/cc-ci-layout.md): a recipe
clone under `abra/recipes/<recipe>`, the app's env file `abra app new` writes from its `.env.sample`
(`abra/servers/default/<domain>.env`), one real pytest call per tier and source with
`--junitxml=junit/<tier>__<source>__<file>.xml`, a timestamped `run.log`, and `results.json`
written last and atomically from the JUnit it just produced. The suites in `suites/` test a
simulated deployment, so the failures are real assertions with real tracebacks.

Docker mode: with CCCI_SAMPLE_DOCKER_HOST (a docker base_url, e.g. a demo.devserver.dockerd engine), the
deploy and teardown are real (demo.sample.stack): the recipe becomes a swarm stack named like cc-ci's app
domain with dots replaced (`<recipe>-<run_id>_ci_example_org`, everything labelled
`com.docker.stack.namespace=<stack>`), running the local busybox image; the runner waits for its tasks,
adds `suites/live/test_stack.py` (assertions against the live stack, as source `cc-ci`) to every tier,
then runs `docker stack rm` and waits until nothing labelled is left. Faults to play in docker mode:
  CCCI_SAMPLE_FAIL_TIER=<tier>       that tier fails deterministically (it expects 2 replicas per service);
  CCCI_SAMPLE_FLAKY_UNDER_LOAD=1     a tier (`custom`, or the tier named instead of 1) fails only while
                                     another stack (not traefik/backupbot) is deployed on the engine;
  CCCI_SAMPLE_HANG=1                 a tier (`upgrade`, or the tier named) blocks forever: a caller's
                                     timeout has to kill the process group (the stack stays deployed);
  CCCI_SAMPLE_LEAVE_SERVICE=1        teardown leaves a service labelled with the stack's namespace behind.

Tier pytest runs happen in this process (`pytest.main`): a subprocess per tier costs ~0.4 s
of interpreter start-up, which would dominate a whole sample world.

Run on its own (env, no argv):
    RECIPE=mumble VERSION=1.0.0+v1.6.870-0 RUN_ID=manual-1 CCCI_RUNS_DIR=/tmp/runs \\
    CCCI_SAMPLE_RECIPES_SRC=/tmp/sample/recipes-src python -m demo.sample.standin_runner
RECIPE and CCCI_SAMPLE_RECIPES_SRC are required; VERSION may be given as CCCI_SAMPLE_VERSION; RUN_ID
defaults to `manual-<pid>` and CCCI_RUNS_DIR to /var/lib/cc-ci-runs. The run lands in
`$CCCI_RUNS_DIR/$RUN_ID/` (run.log, junit/, results.json last); the exit code is 0 green, 1 red,
2 no results.json, 64 a usage error. Optional: CCCI_SAMPLE_LOAD=1 (concurrent sweep load),
CCCI_SAMPLE_WORLD (sample-world.json), CCCI_SAMPLE_PR / CCCI_SAMPLE_REF (a PR head),
CCCI_SAMPLE_STARTED + CCCI_SAMPLE_FINISHED (scenario times instead of the wall clock; without them
results.json carries the real start and finish), CCCI_SAMPLE_DOCKER_HOST and the docker-mode faults above.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from demo.sample.clock import ScenarioClock, WallClock, iso_z, parse_iso
from demo.sample.gitutil import git
from demo.sample.harness import DOCKER_DOWN, ComposeView, deploy, node_metrics, prepull, teardown, withdrawn_at
from demo.sample.junit import TestResult, UnreadableJUnit, read_tests, restamp, stage_status
from demo.sample.model import TIER_SPAN, TIERS, ResultsStyle, RunFaults, tier_progress
from demo.sample.results import RunRecord, Stage, is_green, results_json, summary_card, write_atomic
from demo.sample.runlog import RunLog
from demo.sample.stack import ALLOWED_NEIGHBOURS, LiveStack, stack_name

SUITES = Path(__file__).resolve().parent / "suites"
LIVE_SUITE = SUITES / "live"
HOSTNAME = "cc-ci-1"
DEFAULT_FLAKY_TIER = "custom"
DEFAULT_HANG_TIER = "upgrade"
LIVE_SWITCHES = (
    "CCCI_SAMPLE_FAIL_TIER",
    "CCCI_SAMPLE_FLAKY_UNDER_LOAD",
    "CCCI_SAMPLE_HANG",
    "CCCI_SAMPLE_LEAVE_SERVICE",
)
# How the bot runs this stand-in for a rerun (runner.steps, runner.env): the bot fills the placeholders.
STEP = (sys.executable, "-m", "demo.sample.standin_runner")


def runner_env(runs_dir: Path, recipes_src: Path, world_file: Path) -> dict[str, str]:
    """``runner.env`` for playing cc-ci with the sample: where runs land and where the sample lives."""
    return {
        "RECIPE": "{recipe}",
        "VERSION": "{version}",
        "RUN_ID": "{run_id}",
        "CCCI_RUNS_DIR": str(runs_dir),
        "CCCI_SAMPLE_RECIPES_SRC": str(recipes_src),
        "CCCI_SAMPLE_WORLD": str(world_file),
    }


# What the live suite reads (suites/live/conftest.py); unset for tiers outside docker mode.
LIVE_ENV = ("CCCI_SAMPLE_DOCKER_HOST", "CCCI_SAMPLE_STACK", "CCCI_SAMPLE_EXPECT_REPLICAS", "CCCI_SAMPLE_ALLOWED_STACKS")


@dataclass(frozen=True)
class LiveOptions:
    """Docker mode: the engine to deploy on and the faults to play there (see the module docstring)."""

    docker_host: str
    fail_tier: str | None = None
    flaky_tier: str | None = None
    hang_tier: str | None = None
    leave_service: bool = False

    def __post_init__(self) -> None:
        for tier in (self.fail_tier, self.flaky_tier, self.hang_tier):
            if tier is not None and tier not in TIERS:
                raise ValueError(f"unknown tier {tier!r}; tiers are {', '.join(TIERS)}")


@dataclass(frozen=True)
class RunRequest:
    """Everything one run needs; `clock` decides whether times are real or the scenario's."""

    recipe: str
    version: str
    run_id: str
    runs_dir: Path
    recipes_src: Path
    pr: int | None = None
    ref: str | None = None
    load: bool = False
    world_file: Path | None = None
    clock: WallClock | ScenarioClock = field(default_factory=WallClock)
    faults: RunFaults = field(default_factory=RunFaults)
    tier_env: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    style: ResultsStyle = field(default_factory=ResultsStyle)
    live: LiveOptions | None = None

    @property
    def domain(self) -> str:
        return f"{self.recipe}-{self.run_id}.ci.example.org"

    @property
    def stack(self) -> str:
        """The swarm stack of the app (what `docker stack ls` shows in docker mode)."""
        return stack_name(self.domain)


@dataclass(frozen=True)
class RunOutcome:
    """Where the run landed and what it wrote (`results` is None if the runner died)."""

    run_dir: Path
    results: dict[str, Any] | None


class HarnessError(RuntimeError):
    """The harness failed, not a test: the tier is unverified, not red against the recipe."""

    def __init__(self, message: str, tests: tuple[TestResult, ...] = ()) -> None:
        super().__init__(message)
        self.tests = tests


@dataclass(frozen=True)
class TierFile:
    """One pytest call of a tier: a test file and where its tests come from."""

    tier: str
    source: str
    path: Path

    @property
    def junit_name(self) -> str:
        return f"{self.tier}__{self.source}__{self.path.stem}.xml"

    @property
    def shown(self) -> str:
        return self.path.relative_to(SUITES).as_posix()


def tier_files(recipe: str, tier: str, overlays_added: Mapping[str, str], started: datetime) -> list[TierFile]:
    """The recipe's own tier tests, then cc-ci's overlay if cc-ci had it when the run started."""
    files = [TierFile(tier, "recipe", SUITES / "recipe" / f"test_{tier}.py")]
    overlay = f"tests/{recipe}/test_{tier}.py"
    added = overlays_added.get(overlay)
    if (SUITES / overlay).is_file() and (added is None or parse_iso(added) <= started):
        files.append(TierFile(tier, "cc-ci", SUITES / overlay))
    return files


def live_files(tier: str, live: LiveOptions) -> list[TierFile]:
    """cc-ci's checks of the live stack in docker mode, plus the probes of the faults played in this tier."""
    files = [TierFile(tier, "cc-ci", LIVE_SUITE / "test_stack.py")]
    if live.flaky_tier == tier:
        files.append(TierFile(tier, "cc-ci", LIVE_SUITE / "test_under_load.py"))
    if live.hang_tier == tier:
        files.append(TierFile(tier, "cc-ci", LIVE_SUITE / "test_hang.py"))
    return files


class _FlushedLog(RunLog):
    """A RunLog that reaches the disk line by line: a run killed by a timeout still leaves its log."""

    def line(self, text: str) -> None:
        super().line(text)
        self._file.flush()

    def raw(self, text: str | bytes) -> None:
        super().raw(text)
        self._file.flush()


@contextlib.contextmanager
def _environ(updates: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for None, unset) environment variables for the duration of a block."""
    saved = {key: os.environ.get(key) for key in updates}
    try:
        for key, value in updates.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


# Built-in pytest plugins the sample suites never use. Each pytest.main registers every plugin anew;
# leaving these out makes a tier's call ~25% cheaper and changes nothing in its JUnit or output.
UNUSED_PLUGINS = (
    "cacheprovider",
    "faulthandler",
    "unraisableexception",
    "threadexception",
    "unittest",
    "doctest",
    "legacypath",
    "tmpdir",
    "monkeypatch",
    "recwarn",
    "pastebin",
    "setuponly",
    "setupplan",
    "stepwise",
)


def run_pytest(test: Path, junit: Path, env: Mapping[str, str | None]) -> tuple[int, str]:
    """One tier's pytest call, in process; returns its exit code and its terminal output."""
    args = [
        test.relative_to(SUITES).as_posix(),
        f"--junitxml={junit}",
        f"--rootdir={SUITES}",
        "-c",
        os.devnull,
        f"--confcutdir={SUITES}",
        "--import-mode=importlib",
        *(arg for plugin in UNUSED_PLUGINS for arg in ("-p", f"no:{plugin}")),
        "--capture=sys",
        "--color=no",
        "-q",
        "-rfE",
        "-o",
        "verbosity_assertions=2",  # both sides of `assert a == b` in full, in JUnit too
    ]
    out = io.StringIO()
    isolated = {
        "PYTEST_ADDOPTS": None,
        "PYTEST_PLUGINS": None,
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "COLUMNS": "200",  # room for the `FAILED path::test - message` summary lines
    }
    no_pyc = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        with (
            _environ({**isolated, **env}),
            contextlib.chdir(SUITES),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(out),
        ):
            code = pytest.main(args)
    finally:
        sys.dont_write_bytecode = no_pyc
    return int(code), out.getvalue()


def clone_recipe(req: RunRequest, dest: Path) -> str:
    """Clone the recipe at its release tag (or PR ref), as `abra recipe checkout` leaves it.

    ``--no-local`` makes git send a pack as a network clone does, instead of hard-linking every loose
    object, and an empty ``--template`` leaves out the sample hooks: the bot reads the clone only through
    its refs and git, and a run dir of ~27 entries instead of ~70 keeps copying the sample world cheap.
    """
    src = str(req.recipes_src / req.recipe)
    dest.parent.mkdir(parents=True, exist_ok=True)
    lean = ("--no-local", "--template=")
    if req.ref is None:
        git("clone", "--quiet", *lean, "--branch", req.version, src, str(dest), cwd=dest.parent)
    else:
        git("clone", "--quiet", *lean, "--no-checkout", src, str(dest), cwd=dest.parent)
        git("fetch", "--quiet", "origin", f"{req.ref}:{req.ref}", cwd=dest)
        git("checkout", "--quiet", "--detach", req.ref, cwd=dest)
    return git("log", "-1", "--format=HEAD is now at %h %s", cwd=dest).strip()


def write_app_env(recipe_dir: Path, abra_dir: Path, domain: str) -> Path:
    """The app env `abra app new <recipe> --domain <domain> --server default` writes: the checkout's
    `.env.sample` with the app's domain."""
    sample = (recipe_dir / ".env.sample").read_text(encoding="utf-8")
    text = "".join(
        f"DOMAIN={domain}\n" if line.startswith("DOMAIN=") else line for line in sample.splitlines(keepends=True)
    )
    path = abra_dir / "servers" / "default" / f"{domain}.env"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _truncate(path: Path, keep: float = 0.55) -> None:
    """Cut a file as a killed writer leaves it."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


class _Run:
    """One run from clone to results.json; see the module docstring."""

    def __init__(self, req: RunRequest) -> None:
        self.req = req
        self.dir = req.runs_dir / req.run_id
        self.recipe_dir = self.dir / "abra" / "recipes" / req.recipe
        self.world: dict[str, dict[str, str]] = (
            json.loads(req.world_file.read_text(encoding="utf-8")) if req.world_file else {}
        )
        self.docker_up = True
        self.live = (
            LiveStack(req.live.docker_host, req.domain, self.dir / "abra" / f"{req.stack}.compose.yml")
            if req.live
            else None
        )

    def execute(self) -> RunOutcome:
        (self.dir / "junit").mkdir(parents=True, exist_ok=True)
        try:
            with _FlushedLog(self.dir / "run.log", self.req.clock) as log:
                record = self._execute(log)
        finally:
            if self.live is not None:
                self.live.close()
        if record is None:
            return RunOutcome(self.dir, None)
        (self.dir / "summary.txt").write_text(summary_card(record), encoding="utf-8")
        results = results_json(record)
        write_atomic(self.dir / "results.json", results)  # last: the bot reads its presence as "done"
        return RunOutcome(self.dir, results)

    def _execute(self, log: RunLog) -> RunRecord | None:
        """Everything up to the log's last line; None if the runner dies on the way."""
        req = self.req
        started = req.clock.at(0.0)
        log.raw(f"===== cc-ci run: recipe={req.recipe} version={req.version} run_id={req.run_id} =====")
        log.line(f"runner: cc-ci stand-in on {HOSTNAME} (swarm leader, 2 CPUs, 7.6GiB); ABRA_DIR={self.dir / 'abra'}")
        log.line(f"warm: cold run of {req.recipe} (CCCI_SKIP_FETCH=1)")
        log.line(f"abra recipe checkout {req.recipe} {req.ref or req.version}")
        log.raw(clone_recipe(req, self.recipe_dir))
        write_app_env(self.recipe_dir, self.dir / "abra", req.domain)
        (self.dir / "lint.txt").write_text(f"abra recipe lint {req.recipe}: 0 errors, 0 warnings\n", encoding="utf-8")
        log.line(f"lint: abra recipe lint {req.recipe} -> ok (lint.txt)")

        log.at(0.03)
        compose = ComposeView.load(self.recipe_dir)
        prepull(log, compose)
        log.at(0.05)
        abort = self._deploy(log, compose)

        stages: list[Stage] = []
        for index, tier in enumerate(TIERS):
            log.at(tier_progress(index)[0])
            if abort:
                log.line(f"harness: tier {tier} not run: {abort} (unver)")
                stages.append(Stage(tier, "unver"))
                continue
            try:
                stage = self._tier(log, index, tier)
            except HarnessError as exc:
                log.line(f"harness: exception in tier {tier}; remaining tiers unverified")
                log.raw(traceback.format_exc())
                stages.append(Stage(tier, "unver", exc.tests))
                abort = f"harness exception in tier {tier}"
                continue
            stages.append(stage)
            if tier == "install" and stage.status != "pass":
                abort = "prior stage install did not pass"
            if req.faults.dies_after == tier:
                return None
            node_metrics(log, self._env(tier, 0.0)["CCCI_SAMPLE_LOAD"] == "1")

        log.at(0.96)
        clean = self._teardown(log)
        record = RunRecord(
            req.recipe,
            req.version,
            req.run_id,
            req.pr,
            req.ref or req.version,
            started,
            req.clock.at(1.0),
            tuple(stages),
            clean,
            req.style,
        )
        log.at(1.0)
        rungs = " ".join(f"{s.name}={s.status}" for s in stages)
        log.raw(f"===== cc-ci run finished: run_id={req.run_id} {rungs} =====")
        return record

    def _deploy(self, log: RunLog, compose: ComposeView) -> str | None:
        """Deploy for real in docker mode, else simulate it; returns why no tier can run, or None."""
        req = self.req
        if self.live is None:
            deploy(log, req.recipe, req.domain, compose, withdrawn_at(self.world, req.clock.at(0.05)))
            return None
        return self.live.deploy(log, req.recipe, self.recipe_dir)

    def _teardown(self, log: RunLog) -> bool:
        """Remove the stack (for real in docker mode); returns whether the teardown was clean."""
        if self.live is None:
            return teardown(log, self.req.domain, self.docker_up)
        assert self.req.live is not None
        return self.live.teardown(log, leave=self.req.live.leave_service)

    def _live_env(self, tier: str) -> dict[str, str | None]:
        """Where the live suite finds the stack, and what it expects in this tier; all unset outside docker mode."""
        live = self.req.live
        if live is None:
            return dict.fromkeys(LIVE_ENV)
        return {
            "CCCI_SAMPLE_DOCKER_HOST": live.docker_host,
            "CCCI_SAMPLE_STACK": self.req.stack,
            "CCCI_SAMPLE_EXPECT_REPLICAS": "2" if live.fail_tier == tier else None,
            "CCCI_SAMPLE_ALLOWED_STACKS": ",".join(ALLOWED_NEIGHBOURS),
        }

    def _env(self, tier: str, at: float) -> dict[str, str | None]:
        req = self.req
        return {
            "RECIPE": req.recipe,
            "VERSION": req.version,
            "RUN_ID": req.run_id,
            "ABRA_DIR": str(self.dir / "abra"),
            "CCCI_SAMPLE_LOAD": "1" if req.load else "0",
            "CCCI_SAMPLE_WORLD": str(req.world_file) if req.world_file else None,
            "CCCI_SAMPLE_CLOCK": iso_z(req.clock.at(at)),
            "CCCI_SAMPLE_DOCKER": None,
            **self._live_env(tier),
            **req.tier_env.get(tier, {}),
        }

    def _tier(self, log: RunLog, index: int, tier: str) -> Stage:
        req = self.req
        files = tier_files(req.recipe, tier, self.world.get("overlays_added", {}), req.clock.at(0.0))
        if req.live is not None:
            files += live_files(tier, req.live)
        tests: list[TestResult] = []
        for k, tf in enumerate(files):
            at = tier_progress(index)[0] + TIER_SPAN * k / len(files)
            log.at(at)
            env = self._env(tier, at)
            log.raw(f"===== tier {tier} ({tf.source}) =====")
            log.line(f"harness: pytest {tf.shown} --junitxml=junit/{tf.junit_name}")
            if env.get("CCCI_SAMPLE_DOCKER") == "down":
                self.docker_up = False
                log.line(f"harness: docker service ls --filter label=com.docker.stack.namespace={req.domain}")
                log.raw(DOCKER_DOWN)
            junit = self.dir / "junit" / tf.junit_name
            code, output = run_pytest(tf.path, junit, env)
            if isinstance(req.clock, ScenarioClock):
                restamp(junit, req.clock.at(at), HOSTNAME)
            log.at(at + TIER_SPAN / len(files) * 0.9)
            if req.faults.killed_during == tier:
                lines = output.splitlines(keepends=True)
                log.raw("".join(lines[: len(lines) // 2]))
                _truncate(junit)
                log.line(f"tier {tier} ({tf.source}): pytest killed by SIGTERM (rc=143); junit may be incomplete")
                raise HarnessError(f"tier {tier}: pytest was killed (rc=143) before it finished", tuple(tests))
            log.raw(output)
            try:
                found = read_tests(junit)
            except UnreadableJUnit as exc:
                raise HarnessError(f"tier {tier}: {exc}", tuple(tests)) from exc
            tests += found
            log.line(f"tier {tier} ({tf.source}): {stage_status(found)} (pytest rc={code}, {len(found)} tests)")
        return Stage(tier, stage_status(tests), tuple(tests))


def run_recipe(req: RunRequest) -> RunOutcome:
    """Run one recipe through all tiers and write its run dir; see the module docstring."""
    return _Run(req).execute()


def _tier_switch(env: Mapping[str, str], key: str, default: str) -> str | None:
    """A fault switch that names a tier: unset/0 is off, 1 means `default`, anything else is the tier."""
    value = env.get(key, "").strip()
    if value in ("", "0"):
        return None
    return default if value == "1" else value


def live_from_env(env: Mapping[str, str]) -> LiveOptions | None:
    """Docker mode from CCCI_SAMPLE_DOCKER_HOST and its fault switches; a switch without an engine is an error."""
    host = env.get("CCCI_SAMPLE_DOCKER_HOST", "").strip()
    if not host:
        given = [key for key in LIVE_SWITCHES if env.get(key, "").strip() not in ("", "0")]
        if given:
            raise ValueError(f"{', '.join(given)} need CCCI_SAMPLE_DOCKER_HOST (a docker engine to deploy on)")
        return None
    return LiveOptions(
        docker_host=host,
        fail_tier=env.get("CCCI_SAMPLE_FAIL_TIER", "").strip() or None,
        flaky_tier=_tier_switch(env, "CCCI_SAMPLE_FLAKY_UNDER_LOAD", DEFAULT_FLAKY_TIER),
        hang_tier=_tier_switch(env, "CCCI_SAMPLE_HANG", DEFAULT_HANG_TIER),
        leave_service=env.get("CCCI_SAMPLE_LEAVE_SERVICE", "").strip() not in ("", "0"),
    )


def request_from_env(env: Mapping[str, str]) -> RunRequest:
    """A RunRequest from cc-ci-style environment variables; ValueError names what is missing or wrong."""
    missing = [key for key in ("RECIPE", "CCCI_SAMPLE_RECIPES_SRC") if not env.get(key)]
    version = env.get("VERSION") or env.get("CCCI_SAMPLE_VERSION")
    if not version:
        missing.append("VERSION (or CCCI_SAMPLE_VERSION)")
    if missing:
        raise ValueError(f"missing environment: {', '.join(missing)}")
    assert version is not None
    started, finished = env.get("CCCI_SAMPLE_STARTED"), env.get("CCCI_SAMPLE_FINISHED")
    clock: WallClock | ScenarioClock = (
        ScenarioClock(parse_iso(started), parse_iso(finished)) if started and finished else WallClock()
    )
    world = env.get("CCCI_SAMPLE_WORLD")
    pr = env.get("CCCI_SAMPLE_PR")
    return RunRequest(
        recipe=env["RECIPE"],
        version=version,
        run_id=env.get("RUN_ID") or f"manual-{os.getpid()}",
        runs_dir=Path(env.get("CCCI_RUNS_DIR", "/var/lib/cc-ci-runs")),
        recipes_src=Path(env["CCCI_SAMPLE_RECIPES_SRC"]),
        pr=int(pr) if pr else None,
        ref=env.get("CCCI_SAMPLE_REF") or None,
        load=env.get("CCCI_SAMPLE_LOAD", "0") not in ("", "0"),
        world_file=Path(world) if world else None,
        clock=clock,
        live=live_from_env(env),
    )


def main() -> int:
    """CLI: 0 if the run is green, 1 if red, 2 if no results.json was written, 64 for a usage error."""
    try:
        req = request_from_env(os.environ)
    except ValueError as exc:
        print(f"standin_runner: {exc}", file=sys.stderr)
        return 64
    try:
        outcome = run_recipe(req)
    except Exception:  # the runner itself broke: say so, and keep exit code 1 meaning "red"
        traceback.print_exc()
        return 2
    print(outcome.run_dir)
    if outcome.results is None:
        return 2
    return 0 if is_green(outcome.results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
