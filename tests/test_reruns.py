"""Isolation reruns with a real runner subprocess: the stand-in runner (it plays cc-ci's role) really
runs the sample pytest tiers; faults are real processes that hang, die or never start."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
from msgspec.structs import replace

from bot.answers.suggest import UnknownNameError
from bot.cli import main as cli
from bot.config import Config, DockerConfig, RunnerConfig
from bot.model.records import Category, RunKind, RunStatus, Strength
from bot.model.reruns import Attempt, AttemptOutcome, NotifyKind, RerunError, RerunResult, RerunState, result_of
from bot.render.reports import headline
from bot.reruns import groups
from bot.reruns.manager import RerunManager
from bot.reruns.preflight import Node
from bot.service import Service
from bot.store.reruns import Rerun
from demo.sample.generate import GeneratedData
from demo.sample.standin_runner import STEP, runner_env
from tests import rawdb
from tests.conftest import Site


def rerun_config(site: Site, sample: GeneratedData, **runner: object) -> Config:
    env = runner_env(site.runs_dir, sample.recipes_src, sample.world_file)
    settings = {
        "steps": (STEP,),
        "env": tuple(env.items()),
        "timeout_s": 120.0,
        "busy_wait_s": 30.0,
        "busy_poll_s": 0.05,
        **runner,
    }
    return replace(
        site.config,
        runner=replace(RunnerConfig(), **settings),  # type: ignore[arg-type]
        docker=DockerConfig(base_url=None),
    )


class Recorder:
    """Collects what the manager tells the operator, and can act on it (remove a blocker, cancel)."""

    def __init__(self) -> None:
        self.said: list[tuple[NotifyKind, str]] = []
        self.on: dict[NotifyKind, object] = {}
        self.heard = asyncio.Event()

    async def __call__(self, rerun: Rerun, kind: NotifyKind, text: str) -> None:
        self.said.append((kind, text))
        self.heard.set()
        action = self.on.pop(kind, None)
        if callable(action):
            result = action()
            if asyncio.iscoroutine(result):
                await result


def manager(config: Config, recorder: Recorder) -> tuple[Service, RerunManager]:
    service = Service(config)
    node = Node(config.ccci.active_dir, config.docker.base_url, config.docker.allowed_stacks)
    return service, RerunManager(service, node, recorder, asyncio.Event())


def write_cli_config(path: Path, site: Site, runner: dict[str, object]) -> None:
    """A config file for `ccci-bot rerun`, on the site's dirs, without Docker checks."""
    ccci = {
        "runs_dir": str(site.runs_dir),
        "warm_dir": str(site.warm_dir),
        "active_dir": str(site.config.ccci.active_dir),
    }
    path.write_text(
        json.dumps(
            {"ccci": ccci, "data_dir": str(site.config.data_dir), "runner": runner, "docker": {"base_url": None}}
        )
    )


@pytest.mark.writes_runs
def test_a_flake_turns_flake_after_a_green_isolation_rerun(site: Site, sample: GeneratedData) -> None:
    config = rerun_config(site, sample)
    recorder = Recorder()

    async def scenario() -> tuple[bool, Rerun]:
        service, mgr = manager(config, recorder)
        await service.ingest()
        rerun, position, folded = await mgr.request("mumble", None, 1, "@alice:x")
        assert (position, folded) == (1, False)
        ran = await mgr.process(rerun)
        final = await asyncio.to_thread(mgr.store.get, rerun.id)
        answer = await service.why("mumble")
        service.close()
        assert answer.verdict is not None and answer.verdict.category == "flake"
        assert len([r for r in answer.reruns if r.isolated and r.status is RunStatus.GREEN]) == 2  # sample's + ours
        return ran, final

    ran, final = asyncio.run(scenario())
    assert ran and final.state is RerunState.DONE and final.result is RerunResult.GREEN
    run_id = final.attempts[0].run_id
    assert run_id and (site.runs_dir / run_id / "results.json").is_file()
    row = site.store.runs.get(run_id)
    assert row is not None and row.kind is RunKind.ISOLATION and row.status is RunStatus.GREEN
    assert "1 of 1 green" in final.message and "Verdict now: flake" in final.message
    assert any(kind is NotifyKind.PROGRESS and "(done: " in text for kind, text in recorder.said)
    assert [kind for kind, _ in recorder.said][-1] is NotifyKind.FINAL


@pytest.mark.writes_runs
def test_a_red_that_tested_nothing_turns_infra_settled_after_a_green_isolation_rerun(
    site: Site, sample: GeneratedData
) -> None:
    """gitea's sweep run lost its Docker daemon during backup (its record: tested nothing about the recipe);
    alone, the version passes: infra, settled by the rerun — not "red under sweep load", a flake."""
    config = rerun_config(site, sample)

    async def scenario() -> tuple[Rerun, str | None, str | None]:
        service, mgr = manager(config, Recorder())
        await service.ingest()
        before = (await service.why("gitea")).verdict
        assert "gitea (infra: the next sweep tests it again)" in headline(await service.sweep_report()).text
        rerun, _, _ = await mgr.request("gitea", None, 1, "@alice:x")
        assert await mgr.process(rerun)
        final = await asyncio.to_thread(mgr.store.get, rerun.id)
        answer = await service.why("gitea")
        # the sweep's headline no longer promises a retest: the version passed alone
        assert "gitea (infra: passed alone since)" in headline(await service.sweep_report()).text
        service.close()
        assert before is not None and before.rule == "structural" and before.strength is Strength.RUN_RECORD
        after = answer.verdict
        assert after is not None and after.category is Category.INFRA and after.rule == "untested_green_alone"
        assert after.strength is Strength.RERUNS and after.settle is None
        assert [r.status for r in answer.reruns if r.isolated] == [RunStatus.GREEN]
        return final, after.reason, answer.run_id

    final, reason, red_run = asyncio.run(scenario())
    assert final.state is RerunState.DONE and final.result is RerunResult.GREEN
    assert reason is not None and reason.startswith("passed alone: green in 1 of 1 isolation rerun(s) of ")
    assert f"the red sweep run {red_run} tested nothing about the recipe" in reason and "load" not in reason
    assert "Verdict now: infra" in final.message


@pytest.mark.writes_runs
def test_a_deterministic_failure_turns_recipe_defect_k_of_n(site: Site, sample: GeneratedData, capsys) -> None:
    config = rerun_config(site, sample)
    config_file = site.config.data_dir.parent / "rerun.yaml"
    env = dict(config.runner.env)
    write_cli_config(config_file, site, {"steps": [list(STEP)], "env": env, "busy_wait_s": 5, "busy_poll_s": 0.05})
    assert cli(["rerun", "mattermost-lts", "--times", "2", "--json", "--config", str(config_file)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["state"] == "done" and out["result"] == "red" and len(out["attempts"]) == 2
    assert "0 of 2 green" in out["report"]
    assert "Verdict now: recipe-defect" in out["report"]
    assert "test_restore_returns_state" in out["report"]


@pytest.mark.writes_runs
def test_preflight_waits_while_something_is_in_flight_and_proceeds_once_it_is_gone(
    site: Site, sample: GeneratedData
) -> None:
    config = rerun_config(site, sample)
    blocker = config.ccci.active_dir / "gitea.ci.example.org"
    blocker.write_text("")
    recorder = Recorder()
    recorder.on[NotifyKind.WAITING] = blocker.unlink  # the other deploy finishes while we wait

    async def scenario() -> bool:
        service, mgr = manager(config, recorder)
        await service.ingest()
        rerun, _, _ = await mgr.request("immich", None, 1, "@alice:x")
        ran = await mgr.process(rerun)
        service.close()
        return ran

    assert asyncio.run(scenario())
    waiting = [text for kind, text in recorder.said if kind == "waiting"]
    assert waiting == ["Waiting for the CI node to be idle before rerunning immich: in flight: gitea.ci.example.org"]


def test_a_node_that_stays_busy_means_giving_up_clearly(site: Site, sample: GeneratedData, capsys) -> None:
    (site.config.ccci.active_dir / "discourse.ci.example.org").write_text("")
    config_file = site.config.data_dir.parent / "busy.yaml"
    write_cli_config(config_file, site, {"steps": [list(STEP)], "busy_wait_s": 0.2, "busy_poll_s": 0.05})
    assert cli(["rerun", "immich", "--config", str(config_file)]) == 3
    out = capsys.readouterr().out
    assert "stayed busy" in out and "discourse.ci.example.org" in out and "Nothing was run" in out


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper that is not its old parent counts as dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def test_timeout_kills_the_whole_process_group(
    site: Site, sample: GeneratedData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runner's own child ignores SIGTERM: it still ends, with SIGKILL after the grace period."""
    monkeypatch.setattr(groups, "GRACE_S", 0.5)
    child_pid = tmp_path / "child.pid"
    stubborn = (  # writes its pid once SIGTERM is ignored
        "import os, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        f"open({str(child_pid)!r}, 'w').write(str(os.getpid())); time.sleep(600)"
    )
    hang = (
        sys.executable,
        "-c",
        "import subprocess, sys, time\n"
        f"p = subprocess.Popen([sys.executable, '-c', {stubborn!r}])\n"
        "print('deploying...', flush=True)\n"
        "time.sleep(600)\n",
    )
    config = rerun_config(site, sample, steps=(hang,), timeout_s=2.0)
    recorder = Recorder()

    async def scenario() -> Rerun:
        service, mgr = manager(config, recorder)
        await service.ingest()
        rerun, _, _ = await mgr.request("outline", None, 1, "@alice:x")
        await mgr.process(rerun)
        final = await asyncio.to_thread(mgr.store.get, rerun.id)
        service.close()
        return final

    final = asyncio.run(scenario())
    assert final.attempts[0].outcome is AttemptOutcome.TIMEOUT and final.result is RerunResult.TIMEOUT
    assert "infra/timeout" in final.message and "deploying..." in final.message
    assert not alive(int(child_pid.read_text()))  # the runner's own child died with the group


@pytest.mark.parametrize(
    ("step", "outcome", "shown"),
    [
        (
            (sys.executable, "-c", "print('abra: recipe not found'); raise SystemExit(3)"),
            "no-results",
            "abra: recipe not found",
        ),
        (("/nonexistent/cc-ci-run",), "start-failed", "/nonexistent/cc-ci-run"),
    ],
)
def test_a_runner_that_writes_no_results_is_reported_with_its_log(
    site: Site, sample: GeneratedData, step: tuple[str, ...], outcome: str, shown: str, capsys
) -> None:
    config_file = site.config.data_dir.parent / "broken.yaml"
    write_cli_config(config_file, site, {"steps": [list(step)], "busy_wait_s": 1})
    assert cli(["rerun", "outline", "--json", "--config", str(config_file)]) == 4
    out = json.loads(capsys.readouterr().out)
    assert out["attempts"][0]["outcome"] == outcome and out["result"] == outcome
    assert shown in out["report"]


def test_queue_folds_duplicates_is_bounded_and_validates(site: Site, sample: GeneratedData) -> None:
    config = rerun_config(site, sample, queue_max=2, max_times=3)

    async def scenario() -> None:
        service, mgr = manager(config, Recorder())
        await service.ingest()
        first, _, _ = await mgr.request("mumble", None, 1, "@a:x")
        again, pos2, folded = await mgr.request("mumble", None, 1, "@b:x")
        assert (again.id, pos2, folded) == (first.id, 1, True)
        _, pos3, _ = await mgr.request("gitea", None, 1, "@a:x")
        assert pos3 == 2
        with pytest.raises(RerunError, match="queue is full"):
            await mgr.request("outline", None, 1, "@a:x")
        with pytest.raises(RerunError, match="at most x3"):
            await mgr.request("outline", None, 4, "@a:x")
        with pytest.raises(RerunError, match="not a version"):
            await mgr.request("mumble", "1.0; rm -rf /", 1, "@a:x")
        with pytest.raises(UnknownNameError):
            await mgr.request("mumbel", None, 1, "@a:x")
        cancelled, elsewhere = await mgr.cancel("gitea")
        assert [r.recipe for r in cancelled] == ["gitea"] and elsewhere == []
        assert [r.recipe for r in await mgr.queue()] == ["mumble"]
        service.close()

    asyncio.run(scenario())


@pytest.mark.writes_runs
def test_after_a_restart_the_running_rerun_is_interrupted_and_the_queue_goes_on(
    site: Site, sample: GeneratedData
) -> None:
    config = rerun_config(site, sample)
    recorder = Recorder()

    async def scenario() -> None:
        service, mgr = manager(config, recorder)
        await service.ingest()
        crashed, _, _ = await mgr.request("mumble", None, 1, "@a:x")
        await asyncio.to_thread(mgr.store.set_state, crashed.id, RerunState.RUNNING)  # as the old process left it
        queued, _, _ = await mgr.request("immich", None, 1, "@a:x")
        service.close()
        # A new bot process: a new service and manager on the same data dir.
        service, mgr = manager(config, recorder)
        worker = asyncio.create_task(mgr.run_forever())
        while True:
            recorder.heard.clear()  # before looking, so news arriving after the look still wakes us
            if (await asyncio.to_thread(mgr.store.get, queued.id)).state is RerunState.DONE:
                break
            await asyncio.wait_for(recorder.heard.wait(), 120)  # the worker reports every step
        mgr.stop.set()
        await worker
        interrupted = await asyncio.to_thread(mgr.store.get, crashed.id)
        assert (interrupted.state, interrupted.result) == (RerunState.INTERRUPTED, RerunResult.INTERRUPTED)
        service.close()

    asyncio.run(scenario())
    finals = [text for kind, text in recorder.said if kind is NotifyKind.FINAL]
    assert any("interrupted by a bot restart" in t and "mumble" in t for t in finals)
    assert any("Isolation rerun of immich" in t for t in finals)


def test_cancel_stops_the_running_rerun_and_its_process_group(
    site: Site, sample: GeneratedData, tmp_path: Path
) -> None:
    pid_file = tmp_path / "runner.pid"
    hang = (
        sys.executable,
        "-c",
        # written whole, then renamed: the test never sees an empty pid file (a cancel could land between)
        f"import os, time; open({str(pid_file)!r} + '.tmp', 'w').write(str(os.getpid())); "
        f"os.replace({str(pid_file)!r} + '.tmp', {str(pid_file)!r}); time.sleep(600)",
    )
    config = rerun_config(site, sample, steps=(hang,), timeout_s=300.0)
    recorder = Recorder()

    async def scenario() -> Rerun:
        service, mgr = manager(config, recorder)
        await service.ingest()
        queued, _, _ = await mgr.request("outline", None, 2, "@alice:x")
        task = asyncio.create_task(mgr.process(queued))
        for _ in range(1000):  # until the runner is really running (bounded)
            if pid_file.exists():
                break
            await asyncio.sleep(0.02)
        cancelled, _ = await mgr.cancel("outline")  # an operator cancels while it runs
        assert [r.recipe for r in cancelled] == ["outline"]
        ran = await task
        assert not ran
        final = await asyncio.to_thread(mgr.store.get, queued.id)
        service.close()
        return final

    final = asyncio.run(scenario())
    assert final.state is RerunState.CANCELLED and final.result is RerunResult.CANCELLED
    assert len(final.attempts) == 1 and final.attempts[0].outcome is AttemptOutcome.CANCELLED  # run 2 never started
    assert "cancelled by an operator" in final.message
    assert not alive(int(pid_file.read_text()))


def attempts(*outcomes: AttemptOutcome) -> list[Attempt]:
    return [
        Attempt(o, f"run-{i}" if o is AttemptOutcome.RAN else None, 1.0, "log", n=i) for i, o in enumerate(outcomes)
    ]


@pytest.mark.parametrize(
    ("outcomes", "statuses", "expected"),
    [
        ((AttemptOutcome.RAN, AttemptOutcome.RAN), (RunStatus.GREEN, RunStatus.GREEN), RerunResult.GREEN),
        ((AttemptOutcome.RAN, AttemptOutcome.RAN), (RunStatus.GREEN, RunStatus.RED), RerunResult.RED),
        ((AttemptOutcome.RAN,), (RunStatus.GREEN, RunStatus.UNKNOWN), RerunResult.UNKNOWN),
        ((AttemptOutcome.RAN,), (), RerunResult.UNKNOWN),
        ((AttemptOutcome.RAN, AttemptOutcome.TIMEOUT), (RunStatus.RED,), RerunResult.TIMEOUT),
        ((AttemptOutcome.TIMEOUT, AttemptOutcome.CANCELLED), (), RerunResult.CANCELLED),
        ((AttemptOutcome.STEP_FAILED, AttemptOutcome.NO_RESULTS), (), RerunResult.NO_RESULTS),
        ((AttemptOutcome.START_FAILED,), (), RerunResult.START_FAILED),
    ],
)
def test_a_reruns_result_comes_from_its_attempts_and_runs(
    outcomes: tuple[AttemptOutcome, ...], statuses: tuple[RunStatus, ...], expected: RerunResult
) -> None:
    assert result_of(attempts(*outcomes), statuses) is expected


def test_attempts_round_trip_through_the_store_as_enum_values(site: Site) -> None:
    store = site.store.reruns
    rerun = store.add("immich", "1.0.0", 2, "@a:x", None, None)
    assert rerun.state is RerunState.QUEUED and rerun.result is None
    for attempt in attempts(AttemptOutcome.RAN, AttemptOutcome.TIMEOUT):
        store.add_attempt(rerun.id, attempt)
    store.set_state(rerun.id, RerunState.DONE, "report", RerunResult.TIMEOUT)

    again = store.get(rerun.id)
    assert again.attempts == attempts(AttemptOutcome.RAN, AttemptOutcome.TIMEOUT)
    assert (again.state, again.result, again.message) == (RerunState.DONE, RerunResult.TIMEOUT, "report")
    assert store.active() == []
    raw = rawdb.rows(site.store, "SELECT state, result, attempts_json FROM reruns WHERE id = ?", (rerun.id,))[0]
    assert (raw[0], raw[1]) == ("done", "timeout")  # the enums' values: no data migration for old rows
    assert [a["outcome"] for a in json.loads(raw[2])] == ["ran", "timeout"]
