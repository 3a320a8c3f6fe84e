"""The rerun path under hostile input (issue 25, items 1-5, 10, 12, 14): recipe names, the runner's
environment, its log, the run dir it leaves, the processes it leaves, and cancelling a systemd unit.

The runner is always a real subprocess; a full disk is /dev/full (a real file whose writes fail with
ENOSPC); systemd-run and systemctl, which do not exist here, are tiny real executables on PATH that
record how they were called.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import msgspec
import pytest
from msgspec import structs

from bot.artifacts.controls import has_controls
from bot.artifacts.rundir import read_run
from bot.artifacts.runsdir import find_run_dir
from bot.cli import main as cli
from bot.config import Config
from bot.model.records import ParsedRun
from bot.model.reruns import AttemptOutcome, RerunError, RerunResult, RerunState
from bot.reruns.execute import Execution
from bot.reruns.manager import RerunManager
from demo.sample.generate import GeneratedData
from tests import rawdb
from tests.conftest import Site
from tests.hostile_world import guarded_ingest, make_run, real_junit, settled
from tests.test_reruns import Recorder, alive, manager, rerun_config, write_cli_config

# Controls a terminal or a chat client would act on; a report may keep its newlines (and tabs).
_LINE_BREAKS = "\n\t"


def raw_controls(text: str) -> list[str]:
    return [c for c in text if c not in _LINE_BREAKS and has_controls(c)]


def run_in_thread(fn: Any, timeout: float = 30.0) -> Any:
    """Call ``fn`` in a thread; the join timeout only turns a hang into a failure (not synchronisation)."""
    out: list[Any] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            out.append(fn())
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "hung"
    if errors:
        raise errors[0]
    return out[0]


# --- 1. recipe names --------------------------------------------------------------------------------

NOT_RECIPES = ["--rf", "-x", "../../../../tmp/x", "a/b", ".hidden", "Mumble", "mumble\n", "mu mble", "x" * 65, ""]


@pytest.mark.parametrize("name", NOT_RECIPES)
def test_a_rerun_request_refuses_a_name_that_is_not_a_recipe_name(site: Site, sample: GeneratedData, name: str) -> None:
    """Even when the store knows it (a store filled before ingest checked names): request() is the one gate."""
    config = rerun_config(site, sample)

    async def scenario() -> None:
        service, mgr = manager(config, Recorder())
        await service.ingest()
        mumble = service.store.runs.runs_of("mumble")[-1]
        parsed = read_run(site.runs_dir / mumble.run_id, settled(config).ccci, config.evidence)
        assert isinstance(parsed, ParsedRun)
        service.store.ingest.save_runs([replace(parsed, run_id="old-hostile", recipe=name)])
        with pytest.raises(RerunError, match="not a recipe name"):
            await mgr.request(name, None, 1, "ccci-bot (automatic, after sweep-1)")
        assert await mgr.queue() == []
        service.close()

    asyncio.run(scenario())


@pytest.mark.writes_runs
def test_a_run_whose_recipe_is_not_a_recipe_name_is_a_note_never_a_recipe(site: Site, tmp_path: Path) -> None:
    junit = real_junit(tmp_path / "junit")
    make_run(site.runs_dir, junit, "bad-1", recipe="--rf")
    make_run(site.runs_dir, junit, "bad-2", recipe="../../../../tmp/x")
    make_run(site.runs_dir, junit, "bad-3", recipe="Evil")
    clone_only = make_run(site.runs_dir, junit, "bad-4")
    (clone_only / "results.json").unlink()  # the recipe is then read from the clone's dir name
    (clone_only / "abra" / "recipes" / "-rf").mkdir(parents=True)
    report = guarded_ingest(site.store, settled(site.config))
    notes = site.store.ingest.run_notes()
    for run_id, shown in (("bad-1", "'--rf'"), ("bad-2", "'../../../../tmp/x'"), ("bad-3", "'Evil'")):
        assert site.store.runs.get(run_id) is None
        assert f"recipe {shown} is not a recipe name" in notes[run_id]
        assert any(p.startswith(f"{run_id}: recipe {shown} is not a recipe name") for p in report.problems)
    row = site.store.runs.get("bad-4")
    assert row is not None and row.recipe != "-rf"
    assert "--rf" not in site.store.runs.recipes() and "-rf" not in site.store.runs.recipes()


def test_the_chat_and_cli_recipe_argument_refuses_a_trailing_newline() -> None:
    from commands import UsageError
    from commands.args import recipe_arg

    assert recipe_arg("mattermost-lts") == "mattermost-lts"
    for name in NOT_RECIPES:
        with pytest.raises(UsageError, match="not a recipe name"):
            recipe_arg(name)


# --- 2. the runner's environment --------------------------------------------------------------------


def _with_every_env_key(config: Config, names: dict[str, str]) -> Config:
    """``config`` with every key ending in ``_env``, in every section, naming a variable of its own."""

    def walk(obj: Any, path: str) -> Any:
        changes: dict[str, Any] = {}
        for name in obj.__struct_fields__:
            value = getattr(obj, name)
            key = f"{path}{name}"
            if name.endswith("_env"):
                var = "SECRET_" + key.upper().replace(".", "_")
                names[key] = var
                changes[name] = (var,) if isinstance(value, tuple) else var
            elif isinstance(value, msgspec.Struct):
                changes[name] = walk(value, f"{key}.")
        return structs.replace(obj, **changes)

    walked: Config = walk(config, "")
    return structs.replace(
        walked, web=structs.replace(walked.web, auth=structs.replace(walked.web.auth, basic_user="ops"))
    )


def test_the_runner_gets_a_clean_environment(
    site: Site, sample: GeneratedData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only runner.env and the documented allowlist; never a variable an ``*_env`` key names, even if listed."""
    from bot.reruns.environment import ALLOWED_ENV

    names: dict[str, str] = {}
    config = _with_every_env_key(site.config, names)
    assert {"matrix.access_token_env", "reports.webhook_secret_env", "evidence.mask_env"} <= set(names)
    for var in names.values():
        monkeypatch.setenv(var, f"value-of-{var}")
    monkeypatch.setenv("SOME_BOT_VARIABLE", "not for the runner")
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.setenv("TZ", "UTC")
    dump = tmp_path / "environ"
    step = (sys.executable, "-c", "import sys; open(sys.argv[1], 'wb').write(open('/proc/self/environ', 'rb').read())")
    listed = names["matrix.access_token_env"]
    config = structs.replace(
        config,
        runner=structs.replace(
            rerun_config(site, sample).runner,
            steps=((*step, str(dump)),),
            env=(("RECIPE", "{recipe}"), ("CCCI_SKIP_FETCH", "1"), (listed, "listed in runner.env anyway")),
        ),
    )
    log = tmp_path / "rerun.log"
    asyncio.run(Execution().run(config, "mumble", "1.0.0", "manual-ccci-1-1-env", log, None))
    raw = dump.read_bytes()
    child = dict(item.split("=", 1) for item in raw.decode().split("\0") if item)
    assert set(child) - set(ALLOWED_ENV) == {"RECIPE", "CCCI_SKIP_FETCH"}
    assert child["RECIPE"] == "mumble" and child["PATH"] == os.environ["PATH"] and child["TZ"] == "UTC"
    assert "SOME_BOT_VARIABLE" not in child
    for var in names.values():
        assert var not in child and f"value-of-{var}".encode() not in raw
    said = f"runner.env: {listed} is named by matrix.access_token_env; it is never passed to the runner"
    assert said in config.warnings()  # check-config says so


# --- 3. the rerun log: capped, rotated, and a full disk ----------------------------------------------


def test_a_huge_rerun_log_keeps_its_head_and_tail_and_says_what_was_cut(
    site: Site, sample: GeneratedData, tmp_path: Path
) -> None:
    lines = 200_000  # 3.4 MB of output against a 128 KiB cap
    step = (sys.executable, "-c", f"import sys\nfor i in range({lines}): sys.stdout.write('line %08d\\n' % i)")
    config = rerun_config(site, sample, steps=(step,), log_max_bytes=128 * 1024)
    log = tmp_path / "rerun.log"
    attempt = asyncio.run(Execution().run(config, "mumble", "1.0.0", "manual-ccci-1-1-log", log, None))
    data = log.read_bytes()
    assert len(data) < 128 * 1024 + 1024  # the cap and one marker line
    text = data.decode()
    assert text.startswith("[ccci-bot] step 1/1:") and "\nline 00000000\n" in text
    assert text.splitlines()[-1] == f"line {lines - 1:08d}"  # the last output line is kept
    marker = [line for line in text.splitlines() if "bytes of output cut here" in line]
    assert len(marker) == 1 and marker[0].startswith("[ccci-bot]")
    assert attempt.outcome is AttemptOutcome.NO_RESULTS and f"line {lines - 1:08d}" in attempt.log_tail


@pytest.mark.writes_runs
def test_old_rerun_logs_are_rotated(site: Site, sample: GeneratedData) -> None:
    config = rerun_config(site, sample, steps=((sys.executable, "-c", "print('hello')"),), logs_kept=5)
    logs = config.data_dir / "reruns"
    logs.mkdir(parents=True)
    old = time.time() - 3600
    for i in range(12):
        path = logs / f"manual-ccci-{i}-1-old.log"
        path.write_text("old\n")
        os.utime(path, (old + i, old + i))
    keep_me = logs / "notes.txt"  # not a rerun log: never touched
    keep_me.write_text("mine")
    recorder = Recorder()

    async def scenario() -> None:
        service, mgr = manager(config, recorder)
        await service.ingest()
        rerun, _, _ = await mgr.request("mumble", None, 1, "@a:x")
        await mgr.process(rerun)
        service.close()

    asyncio.run(scenario())
    left = sorted(p.name for p in logs.glob("*.log"))
    assert len(left) == 5
    assert {f"manual-ccci-{i}-1-old.log" for i in range(8, 12)} == {n for n in left if n.endswith("-old.log")}
    assert keep_me.read_text() == "mine"


def test_a_full_disk_fails_the_rerun_cleanly(
    site: Site,
    sample: GeneratedData,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The rerun log on /dev/full: every write fails with ENOSPC, as on a full data disk."""
    started = tmp_path / "started"
    monkeypatch.setattr(RerunManager, "log_path", lambda self, run_id: Path("/dev/full"))
    config_file = tmp_path / "full.yaml"
    step = [sys.executable, "-c", f"open({str(started)!r}, 'w'); print('x' * 100000)"]
    write_cli_config(config_file, site, {"steps": [step], "busy_wait_s": 1})
    assert cli(["rerun", "outline", "--json", "--config", str(config_file)]) == 4
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    out = json.loads(captured.out)
    assert out["state"] == "done" and out["result"] == "log-unwritable"
    assert out["attempts"][0]["outcome"] == "log-unwritable"
    assert "No space left on device" in out["report"] and "rerun log" in out["report"]
    assert not started.exists()  # nothing ran without a log to keep its output


def _unwritable(mgr: RerunManager) -> None:
    """Make SQLite refuse every write on the manager's store, as a full disk would (the same error class)."""
    rawdb.refuse_writes(mgr.service.store)


def _writable(mgr: RerunManager) -> None:
    rawdb.refuse_writes(mgr.service.store, refuse=False)


class Heard(logging.Handler):
    """Sets an event when a log record containing ``text`` is emitted (in the event loop's thread)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.event = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.event.set()


def test_a_restart_with_a_store_it_cannot_write_does_not_crash_and_resumes(
    site: Site, sample: GeneratedData, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = rerun_config(site, sample, steps=(("/nonexistent/cc-ci-run",),))
    recorder = Recorder()

    async def scenario() -> None:
        service, mgr = manager(config, recorder)
        await service.ingest()
        crashed, _, _ = await mgr.request("mumble", None, 1, "@a:x")
        await asyncio.to_thread(mgr.store.set_state, crashed.id, RerunState.RUNNING)
        queued, _, _ = await mgr.request("immich", None, 1, "@a:x")
        service.close()
        service, mgr = manager(config, recorder)  # the restarted bot, on a disk with no room
        _unwritable(mgr)
        heard = Heard("cannot write its store")
        logging.getLogger("bot.reruns.manager").addHandler(heard)
        try:
            await mgr.recover()  # must not raise
            worker = asyncio.create_task(mgr.run_forever())
            await asyncio.wait_for(heard.event.wait(), 60)
            assert not worker.done()
            assert (await asyncio.to_thread(mgr.store.get, queued.id)).state is RerunState.QUEUED
            _writable(mgr)  # room again: a new request (or any wake) resumes the queue
            mgr.wake.set()
            while True:
                recorder.heard.clear()  # before looking, so news arriving after the look still wakes us
                if not (await asyncio.to_thread(mgr.store.get, queued.id)).state.active:
                    break
                await asyncio.wait_for(recorder.heard.wait(), 60)
            mgr.stop.set()
            await worker
        finally:
            logging.getLogger("bot.reruns.manager").removeHandler(heard)
        assert (await asyncio.to_thread(mgr.store.get, crashed.id)).state is RerunState.INTERRUPTED
        assert (await asyncio.to_thread(mgr.store.get, queued.id)).result is RerunResult.START_FAILED
        service.close()

    asyncio.run(scenario())


# --- 4. the run dir a rerun finds -------------------------------------------------------------------


def test_finding_the_rerun_s_run_dir_reads_results_json_as_ingest_does(
    site: Site, sample: GeneratedData, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    started = time.time()
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started + 5))
    good = json.dumps({"recipe": "mumble", "finished": now})
    for name in ("fifo", "zero", "big", "deep", "outside", "good"):
        (runs / name).mkdir()
    os.mkfifo(runs / "fifo" / "results.json")
    (runs / "zero" / "results.json").symlink_to("/dev/zero")
    (runs / "big" / "results.json").write_text(good[:-1] + ', "pad": "' + "x" * 4096 + '"}')
    (runs / "deep" / "results.json").write_text(
        '{"recipe": "mumble", "finished": "' + now + '", "x": ' + "[" * 80 + "]" * 80 + "}"
    )
    (tmp_path / "outside.json").write_text(good)
    (runs / "outside" / "results.json").symlink_to(tmp_path / "outside.json")
    (runs / "good" / "results.json").write_text(good)
    config = structs.replace(site.config, ccci=structs.replace(site.config.ccci, runs_dir=runs, max_results_bytes=1024))
    preferred = ["fifo", "zero", "big", "deep", "outside"]
    assert run_in_thread(lambda: find_run_dir(config, "mumble", started, preferred)) == "good"


# --- 5. run ids --------------------------------------------------------------------------------------


def _recipe_of(run_dir: Path) -> str | None:
    try:
        return str(json.loads((run_dir / "results.json").read_text())["recipe"])
    except (OSError, ValueError, KeyError):
        return None


@pytest.mark.writes_runs
def test_a_rerun_never_writes_into_an_existing_run_dir(site: Site, sample: GeneratedData) -> None:
    """A store whose counter restarted (lost, restored or second data dir) while the runs dir remembers."""
    outline = next(p for p in sorted(site.runs_dir.iterdir()) if _recipe_of(p) == "outline")
    taken = site.runs_dir / "manual-ccci-1-1"
    shutil.copytree(outline, taken, symlinks=True)
    before = {p.relative_to(taken): p.read_bytes() for p in taken.rglob("*") if p.is_file() and not p.is_symlink()}
    config = rerun_config(site, sample)

    async def scenario() -> str | None:
        service, mgr = manager(config, Recorder())
        await service.ingest()
        rerun, _, _ = await mgr.request("mumble", None, 1, "@a:x")
        assert rerun.id == 1  # the counter restarted
        await mgr.process(rerun)
        final = await asyncio.to_thread(mgr.store.get, rerun.id)
        service.close()
        return final.attempts[0].run_id

    run_id = asyncio.run(scenario())
    assert run_id is not None and run_id != "manual-ccci-1-1" and run_id.startswith("manual-ccci-1-1-")
    after = {p.relative_to(taken): p.read_bytes() for p in taken.rglob("*") if p.is_file() and not p.is_symlink()}
    assert after == before
    row = site.store.runs.get("manual-ccci-1-1")
    assert row is not None and row.recipe == "outline"


def test_a_new_run_id_is_never_one_the_runs_dir_holds(tmp_path: Path) -> None:
    from bot.reruns.runids import new_run_id

    tokens = iter(["aaaa", "aaaa", "bbbb"])
    (tmp_path / "manual-ccci-7-2-aaaa").mkdir()
    assert new_run_id(tmp_path, 7, 2, token=lambda: next(tokens)) == "manual-ccci-7-2-bbbb"
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    assert len({new_run_id(tmp_path, 7, 2) for _ in range(50)}) == 50


# --- 10. escaping on the rerun path ----------------------------------------------------------------

HOSTILE_JUNIT = "install\x1b[2J\x07\u202e\nFAKE: rerun green.__cc-ci__test_x.xml"
HOSTILE_OUTPUT = "\x1b]0;owned\x07\x1b[2Jdeploying\u202e\nFAKE: rerun green.\n\x9b31mred"

WRITES_A_RUN = """
import json, os, pathlib, shutil, sys, time
run = pathlib.Path(os.environ["CCCI_RUNS_DIR"]) / os.environ["RUN_ID"]
(run / "junit").mkdir(parents=True)
shutil.copy(sys.argv[1], run / "junit" / sys.argv[2])
now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
info = {"recipe": os.environ["RECIPE"], "version": os.environ["VERSION"], "started": now, "finished": now}
(run / "results.json").write_text(json.dumps(info))
"""


@pytest.mark.writes_runs
@pytest.mark.parametrize("case", ["junit-name", "log-tail"])
def test_run_dir_text_is_escaped_on_the_rerun_path(
    site: Site, sample: GeneratedData, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    script = tmp_path / "runner.py"
    if case == "junit-name":
        script.write_text(WRITES_A_RUN)
        step = [sys.executable, str(script), str(real_junit(tmp_path / "j")), HOSTILE_JUNIT]
    else:
        script.write_text(f"import sys\nsys.stdout.write({HOSTILE_OUTPUT!r})\nraise SystemExit(3)\n")
        step = [sys.executable, str(script)]
    config = rerun_config(site, sample)
    config_file = tmp_path / "escape.yaml"
    write_cli_config(config_file, site, {"steps": [step], "env": dict(config.runner.env), "busy_wait_s": 1})
    code = cli(["rerun", "outline", "--config", str(config_file)])
    captured = capsys.readouterr()
    assert code == (0 if case == "junit-name" else 4)
    for stream in (captured.out, captured.err):
        assert raw_controls(stream) == []
        assert not any(line.startswith("FAKE") for line in stream.splitlines())
    if case == "junit-name":
        assert "install\\x1b[2J\\x07\\u202e\\x0aFAKE: rerun green." in captured.err  # the progress line
    else:
        assert "\\x1b]0;owned\\x07" in captured.out and "      FAKE: rerun green." in captured.out


# --- 12. processes left behind ----------------------------------------------------------------------


def test_a_daemon_left_by_a_runner_that_exits_0_is_ended(site: Site, sample: GeneratedData, tmp_path: Path) -> None:
    pid_file = tmp_path / "daemon.pid"
    step = ("sh", "-c", f"sleep 600 >/dev/null 2>&1 & echo $! > {pid_file}; exit 0")
    config = rerun_config(site, sample, steps=(step,))
    log = tmp_path / "rerun.log"
    asyncio.run(Execution().run(config, "mumble", "1.0.0", "manual-ccci-1-1-daemon", log, None))
    assert not alive(int(pid_file.read_text()))
    assert "left processes running" in log.read_text()


# --- 14. cancel stops the systemd unit --------------------------------------------------------------

FAKE_SYSTEMD_RUN = """#!/bin/sh
# Stands in for systemd-run --wait: records its arguments, then runs the command after `--` in place.
printf '%s\\n' "$@" > "$(dirname "$0")/systemd-run.argv"
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do shift; done
shift
exec "$@"
"""
FAKE_SYSTEMCTL = """#!/bin/sh
printf '%s\\n' "$@" > "$(dirname "$0")/systemctl.argv"
"""


@pytest.mark.parametrize("how", ["cancel", "timeout"])
def test_cancel_and_timeout_stop_the_systemd_unit_of_the_running_step(
    site: Site, sample: GeneratedData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("systemd-run", FAKE_SYSTEMD_RUN), ("systemctl", FAKE_SYSTEMCTL)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    pid_file = tmp_path / "runner.pid"
    hang = (
        f"import os, time; open({str(pid_file)!r} + '.tmp', 'w').write(str(os.getpid())); "
        f"os.replace({str(pid_file)!r} + '.tmp', {str(pid_file)!r}); time.sleep(600)"
    )
    step = (
        "systemd-run",
        "--quiet",
        "--wait",
        "--pipe",
        "--unit=ccci-rerun-{run_id}-run",
        "--property=RuntimeMaxSec=3600",
        "--",
        sys.executable,
        "-c",
        hang,
    )
    config = rerun_config(site, sample, steps=(step,), timeout_s=300.0 if how == "cancel" else 3.0)
    recorder = Recorder()

    async def scenario() -> None:
        service, mgr = manager(config, recorder)
        await service.ingest()
        rerun, _, _ = await mgr.request("outline", None, 1, "@alice:x")
        task = asyncio.create_task(mgr.process(rerun))
        if how == "cancel":
            for _ in range(1000):  # until the runner is really running (bounded)
                if pid_file.exists():
                    break
                await asyncio.sleep(0.02)
            await mgr.cancel("outline")
        await task
        service.close()

    asyncio.run(scenario())
    unit = next(a for a in (bin_dir / "systemd-run.argv").read_text().splitlines() if a.startswith("--unit="))
    assert unit.startswith("--unit=ccci-rerun-manual-ccci-1-1-") and unit.endswith("-run")
    assert (bin_dir / "systemctl.argv").read_text().splitlines() == ["stop", "--", unit.removeprefix("--unit=")]
    assert not alive(int(pid_file.read_text()))
