"""One isolation run: the configured argv steps as real subprocesses, in their own process group.

Output streams to a log file. A deadline kills the whole group (cc-ci's runner starts children of
its own). The run dir the runner wrote is found afterwards by its results.json: this recipe, and a
finish time after the attempt started.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.artifacts.timefmt import parse_time
from bot.config import Config
from bot.model.reruns import Attempt, AttemptOutcome

GRACE_S = 10.0
KILLED_WAIT_S = 2.0  # after SIGKILL a process is gone at once unless it is a zombie nobody reaps
GROUP_POLL_S = 0.02
Progress = Callable[[list[str]], Awaitable[None]]


def tail(path: Path, lines: int = 20) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - 16_384))
            return "\n".join(handle.read().decode("utf-8", "replace").splitlines()[-lines:])
    except OSError:
        return ""


def _kill_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone: nothing to kill
        os.killpg(pid, sig)


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member we may not signal still exists
        return True
    return True


async def _end_group(pgid: int) -> None:
    """After the leader is gone, the rest of its group (the runner's own children) goes too.

    A child that ignores SIGTERM would otherwise outlive the deadline; one still there after the grace
    period gets SIGKILL, and the wait for it is bounded (a zombie nobody reaps never leaves the group).
    No event says when a process that is not our child dies, so this polls.
    """
    if await _gone(pgid, GRACE_S):
        return
    _kill_group(pgid, signal.SIGKILL)
    await _gone(pgid, KILLED_WAIT_S)


async def _gone(pgid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _group_exists(pgid):
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(GROUP_POLL_S)
    return True


class Execution:
    """A running attempt that can be cancelled from outside (``!ccci cancel``)."""

    def __init__(self) -> None:
        self.cancelled = asyncio.Event()
        self.current: asyncio.subprocess.Process | None = None

    def cancel(self) -> None:
        self.cancelled.set()
        if self.current is not None and self.current.returncode is None:
            _kill_group(self.current.pid, signal.SIGTERM)

    async def _wait(self, proc: asyncio.subprocess.Process, seconds: float) -> int | AttemptOutcome:
        self.current = proc
        waiter = asyncio.ensure_future(proc.wait())
        stopper = asyncio.ensure_future(self.cancelled.wait())
        done, _ = await asyncio.wait({waiter, stopper}, timeout=max(seconds, 0.0), return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if waiter in done:
            return waiter.result()
        _kill_group(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), GRACE_S)
        except TimeoutError:
            _kill_group(proc.pid, signal.SIGKILL)
            await waiter
        await _end_group(proc.pid)
        return AttemptOutcome.CANCELLED if self.cancelled.is_set() else AttemptOutcome.TIMEOUT

    async def run(
        self, config: Config, recipe: str, version: str, run_id: str, log_path: Path, progress: Progress | None = None
    ) -> Attempt:
        values = {"recipe": recipe, "version": version, "run_id": run_id}
        env = {**os.environ, **{k: v.format(**values) for k, v in config.runner.env}}
        started = time.time()
        deadline = time.monotonic() + config.runner.timeout_s
        log_path.parent.mkdir(parents=True, exist_ok=True)
        attempt = Attempt(AttemptOutcome.RAN, None, 0.0, str(log_path))
        watcher = asyncio.create_task(self._watch(config, run_id, attempt, progress)) if progress else None
        try:
            with log_path.open("ab") as log:
                for i, step in enumerate(config.runner.steps):
                    if self.cancelled.is_set():  # cancelled between steps: start nothing more
                        attempt.outcome, attempt.detail = AttemptOutcome.CANCELLED, "cancelled by an operator"
                        break
                    argv = [arg.format(**values) for arg in step]
                    log.write(f"[ccci-bot] step {i + 1}/{len(config.runner.steps)}: {argv}\n".encode())
                    log.flush()
                    try:
                        proc = await asyncio.create_subprocess_exec(
                            *argv,
                            cwd=config.runner.cwd,
                            env=env,
                            stdout=log,
                            stderr=asyncio.subprocess.STDOUT,
                            start_new_session=True,
                        )
                    except OSError as exc:
                        attempt.outcome, attempt.detail = (
                            AttemptOutcome.START_FAILED,
                            f"{argv[0]}: {exc.strerror or exc}",
                        )
                        break
                    attempt.pids.append(proc.pid)
                    result = await self._wait(proc, deadline - time.monotonic())
                    if isinstance(result, AttemptOutcome):
                        attempt.outcome = result
                        attempt.detail = (
                            f"killed after {config.runner.timeout_s:.0f} s (the runner's deadline)"
                            if result is AttemptOutcome.TIMEOUT
                            else "cancelled by an operator"
                        )
                        break
                    if result != 0 and i < len(config.runner.steps) - 1:
                        attempt.outcome, attempt.detail = AttemptOutcome.STEP_FAILED, f"step {argv} exited {result}"
                        break
        finally:
            if watcher is not None:
                watcher.cancel()
        attempt.seconds = time.time() - started
        if attempt.outcome is AttemptOutcome.RAN:
            attempt.run_id = find_run_dir(config, recipe, started, [run_id, *(f"manual-{p}" for p in attempt.pids)])
            if attempt.run_id is None:
                attempt.outcome, attempt.detail = (
                    AttemptOutcome.NO_RESULTS,
                    "the runner exited without writing results.json",
                )
            elif progress is not None:  # the last tiers may have finished between two looks
                junit = config.ccci.runs_dir / attempt.run_id / config.ccci.junit_dir
                with contextlib.suppress(OSError):
                    await progress(sorted(p.name for p in junit.iterdir() if p.suffix == ".xml"))
        if attempt.outcome is not AttemptOutcome.RAN:
            attempt.log_tail = tail(log_path)
        return attempt

    async def _watch(self, config: Config, run_id: str, attempt: Attempt, progress: Progress) -> None:
        """Report JUnit files as they appear (one per tier) in the run dir being written."""
        seen: list[str] = []
        while True:
            candidates = [run_id, *(f"manual-{p}" for p in attempt.pids)]
            for name in candidates:
                junit = config.ccci.runs_dir / name / config.ccci.junit_dir
                try:
                    files = sorted(p.name for p in junit.iterdir() if p.suffix == ".xml")
                except OSError:
                    continue
                if files != seen:
                    seen = files
                    await progress(files)
            await asyncio.sleep(1.0)  # polling the disk for new files; nothing else announces them


def find_run_dir(config: Config, recipe: str, started: float, preferred: list[str]) -> str | None:
    """The run dir this attempt wrote: its results.json names the recipe and finished after ``started``."""
    names = [*preferred]
    try:
        names += [p.name for p in config.ccci.runs_dir.iterdir() if p.stat().st_mtime >= started - 1]
    except OSError:
        return None
    for name in dict.fromkeys(names):
        try:
            data = json.loads((config.ccci.runs_dir / name / config.ccci.results_name).read_text())
        except (OSError, ValueError):
            continue
        finished = parse_time(data.get("finished")) if isinstance(data, dict) else None
        if isinstance(data, dict) and data.get("recipe") == recipe and finished is not None and finished >= started - 1:
            return name
    return None
