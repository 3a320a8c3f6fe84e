"""One isolation run: the configured argv steps as real subprocesses, each in its own process group.

A step gets a clean environment (:mod:`bot.reruns.environment`). Its output comes through a pipe into
a capped log (:mod:`bot.reruns.runlog`). When it ends — on its own, by the deadline or by a cancel —
whatever is left of its process group ends too (:mod:`bot.reruns.groups`), and a cancelled or timed-out
step that runs as a systemd unit has that unit stopped (:mod:`bot.reruns.units`). The run dir the
runner wrote is found afterwards by its results file (:mod:`bot.artifacts.runsdir`): this recipe, and
a finish time after the attempt started.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from bot.artifacts.runsdir import find_run_dir, junit_names
from bot.artifacts.safeopen import Unsafe, open_regular
from bot.config import Config
from bot.model.reruns import Attempt, AttemptOutcome
from bot.reruns import groups
from bot.reruns.environment import runner_environment
from bot.reruns.runlog import CappedLog
from bot.reruns.units import step_units, stop_units

DRAIN_S = 2.0  # output still buffered in the pipe when a step's group has ended
CHUNK = 1 << 16
TAIL_BYTES = 16_384
Progress = Callable[[list[str], bool], Awaitable[None]]  # JUnit files so far; the attempt has ended


def tail(path: Path, lines: int = 20) -> str:
    """The last lines of a rerun log (raw: whoever shows them escapes them); "" if it is not a regular file."""
    try:
        with open_regular(path) as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - TAIL_BYTES))
            return "\n".join(handle.read(TAIL_BYTES).decode("utf-8", "replace").splitlines()[-lines:])
    except (OSError, Unsafe):
        return ""


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


async def _pump(pipe: BinaryIO, log: CappedLog) -> None:
    """Copy a step's output from the pipe into the log until every writer has closed it.

    The head goes to disk off the event loop; the tail is kept in memory. A log that failed stops
    the copying (the step is then stopped by :meth:`Execution._wait`).
    """
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=CHUNK)
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    try:
        while log.failed is None:
            chunk = await reader.read(CHUNK)
            if not chunk:
                return
            if log.on_disk:
                await asyncio.to_thread(log.write, chunk)
            else:
                log.write(chunk)
    finally:
        transport.close()


class Execution:
    """A running attempt that can be cancelled from outside (``!ccci cancel``)."""

    def __init__(self) -> None:
        self.cancelled = asyncio.Event()

    def cancel(self) -> None:
        """Stop the attempt: :meth:`_wait` sees this and ends the running step (its unit, then its group)."""
        self.cancelled.set()

    async def run(
        self, config: Config, recipe: str, version: str, run_id: str, log_path: Path, progress: Progress | None = None
    ) -> Attempt:
        values = {"recipe": recipe, "version": version, "run_id": run_id}
        env = runner_environment(config, values)
        started = time.time()
        deadline = time.monotonic() + config.runner.timeout_s
        attempt = Attempt(AttemptOutcome.RAN, None, 0.0, str(log_path))
        try:
            log = await asyncio.to_thread(CappedLog.create, log_path, config.runner.log_max_bytes)
        except OSError as exc:
            attempt.outcome = AttemptOutcome.LOG_UNWRITABLE
            attempt.detail = f"the rerun log could not be created ({_reason(exc)}); nothing was run"
            return attempt
        watcher = asyncio.create_task(self._watch(config, run_id, attempt, progress)) if progress else None
        try:
            await self._steps(config, values, env, log, deadline, attempt)
        finally:
            if watcher is not None:
                watcher.cancel()
            await asyncio.to_thread(log.close)
        if log.failed is not None and attempt.outcome in (AttemptOutcome.RAN, AttemptOutcome.LOG_UNWRITABLE):
            why = f"the rerun log could not be written ({_reason(log.failed)})"
            attempt.outcome = AttemptOutcome.LOG_UNWRITABLE
            attempt.detail = f"{why}; {attempt.detail}" if attempt.detail else why
        attempt.seconds = time.time() - started
        if attempt.outcome is AttemptOutcome.RAN:
            candidates = [run_id, *(f"manual-{p}" for p in attempt.pids)]
            attempt.run_id = await asyncio.to_thread(find_run_dir, config, recipe, started, candidates)
            if attempt.run_id is None:
                attempt.outcome, attempt.detail = (
                    AttemptOutcome.NO_RESULTS,
                    f"the runner exited without writing {config.ccci.results_name}",
                )
        if attempt.outcome is not AttemptOutcome.RAN and log.failed is None:
            attempt.log_tail = await asyncio.to_thread(tail, log_path)
        if progress is not None:  # ended, whatever the outcome; the last tiers may have finished between two looks
            files = await asyncio.to_thread(junit_names, config, attempt.run_id) if attempt.run_id else []
            await progress(files, True)
        return attempt

    async def _steps(
        self,
        config: Config,
        values: dict[str, str],
        env: dict[str, str],
        log: CappedLog,
        deadline: float,
        attempt: Attempt,
    ) -> None:
        steps = config.runner.steps
        for i, step in enumerate(steps):
            if self.cancelled.is_set():  # cancelled between steps: start nothing more
                attempt.outcome, attempt.detail = AttemptOutcome.CANCELLED, "cancelled by an operator"
                return
            argv = [arg.format(**values) for arg in step]
            log.write(f"[ccci-bot] step {i + 1}/{len(steps)}: {argv}\n".encode())
            if log.failed is not None:
                attempt.outcome = AttemptOutcome.LOG_UNWRITABLE
                attempt.detail = "nothing more was run" if i else "nothing was run"
                return
            result = await self._step(config, argv, env, log, deadline, attempt)
            if isinstance(result, AttemptOutcome):
                attempt.outcome = result
                attempt.detail = {
                    AttemptOutcome.TIMEOUT: f"killed after {config.runner.timeout_s:.0f} s (the runner's deadline)",
                    AttemptOutcome.CANCELLED: "cancelled by an operator",
                    AttemptOutcome.LOG_UNWRITABLE: "the runner was stopped",
                }.get(result, attempt.detail)
                return
            if result != 0 and i < len(steps) - 1:
                attempt.outcome, attempt.detail = AttemptOutcome.STEP_FAILED, f"step {argv} exited {result}"
                return

    async def _step(
        self, config: Config, argv: list[str], env: dict[str, str], log: CappedLog, deadline: float, attempt: Attempt
    ) -> int | AttemptOutcome:
        """One step from start to the end of its process group: its exit code, or how it was stopped."""
        read_fd, write_fd = os.pipe()
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=config.runner.cwd,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=write_fd,
                stderr=write_fd,
                start_new_session=True,
            )
        except OSError as exc:
            os.close(read_fd)
            attempt.detail = f"{argv[0]}: {_reason(exc)}"
            return AttemptOutcome.START_FAILED
        finally:
            os.close(write_fd)
        attempt.pids.append(proc.pid)
        pipe = os.fdopen(read_fd, "rb", buffering=0)
        pump = asyncio.create_task(_pump(pipe, log))
        try:
            result = await self._wait(config, proc, pump, argv, env, log, deadline - time.monotonic())
            if await asyncio.to_thread(groups.group_alive, proc.pid):  # a daemon it started, say
                log.write(b"[ccci-bot] the step left processes running in its group; ending them\n")
                await groups.end_group(proc.pid)
            with contextlib.suppress(TimeoutError):  # a process outside the group may hold the pipe open
                await asyncio.wait_for(asyncio.shield(pump), DRAIN_S)
        except asyncio.CancelledError:  # the bot stops: the rerun is reported as interrupted, nothing may go on
            groups.kill_group(proc.pid, signal.SIGTERM)
            raise
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
            pipe.close()  # already closed by the pump, unless it was cancelled before it started
        return result

    async def _wait(
        self,
        config: Config,
        proc: asyncio.subprocess.Process,
        pump: asyncio.Task[None],
        argv: list[str],
        env: Mapping[str, str],
        log: CappedLog,
        seconds: float,
    ) -> int | AttemptOutcome:
        """The step's exit code, or: the deadline passed, an operator cancelled, or its log failed."""
        waiter = asyncio.ensure_future(proc.wait())
        stopper = asyncio.ensure_future(self.cancelled.wait())
        timeout = time.monotonic() + max(seconds, 0.0)
        pending: set[asyncio.Future[Any]] = {waiter, stopper, pump}
        try:
            while True:
                done, pending = await asyncio.wait(
                    pending, timeout=max(timeout - time.monotonic(), 0.0), return_when=asyncio.FIRST_COMPLETED
                )
                if waiter in done:
                    return waiter.result()
                if pump in done and log.failed is None:
                    continue  # the step closed its output and goes on
                break
        except BaseException:  # cancelled (the bot stops): the caller ends the group
            waiter.cancel()
            raise
        finally:
            stopper.cancel()
        if log.failed is not None:
            outcome = AttemptOutcome.LOG_UNWRITABLE
        else:
            outcome = AttemptOutcome.CANCELLED if self.cancelled.is_set() else AttemptOutcome.TIMEOUT
        units = step_units(argv)
        if units:
            said = await stop_units(config.runner.unit_stop, units, env)
            if said:
                log.write(f"[ccci-bot] {said}\n".encode())
        groups.kill_group(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), groups.GRACE_S)
        except TimeoutError:
            groups.kill_group(proc.pid, signal.SIGKILL)
            await waiter
        return outcome

    async def _watch(self, config: Config, run_id: str, attempt: Attempt, progress: Progress) -> None:
        """Report JUnit files as they appear (one per tier) in the run dir being written."""
        seen: list[str] = []
        while True:
            for name in [run_id, *(f"manual-{p}" for p in attempt.pids)]:
                files = await asyncio.to_thread(junit_names, config, name)
                if files and files != seen:
                    seen = files
                    await progress(files, False)
            await asyncio.sleep(1.0)  # polling the disk for new files; nothing else announces them
