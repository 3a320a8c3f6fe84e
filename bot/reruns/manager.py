"""The rerun queue: one isolation run at a time, FIFO, duplicates folded, the node idle before each.

Requests and their state live in SQLite (:mod:`bot.store.reruns`): after a restart, a rerun that was
running is reported as interrupted and the queued ones continue. Everything the operator should hear
goes through ``notify`` (the chat's outbox, or the terminal for the CLI).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.artifacts.controls import escape_name
from bot.backoff import sleep_unless, wait_for_wake
from bot.model.recipe_name import RECIPE_NAME_RULE, is_recipe_name
from bot.model.reruns import Attempt, AttemptOutcome, NotifyKind, RerunError, RerunResult, RerunState
from bot.reruns.execute import Execution
from bot.reruns.preflight import Node, NodeUnreachable
from bot.reruns.report import final_report, progress_line, result
from bot.reruns.runids import new_run_id
from bot.reruns.runlog import LOG_DIR, LOG_SUFFIX, live_log_url, rotate
from bot.service import Service
from bot.store import STORE_WRITE_ERRORS
from bot.store.reruns import Rerun

log = logging.getLogger(__name__)
# (rerun, kind, text): a FINAL notification comes after the rerun's state and result are stored
Notify = Callable[[Rerun, NotifyKind, str], Awaitable[None]]
STORE_ERRORS = STORE_WRITE_ERRORS  # a store that cannot be written (a full disk)
STORE_RETRY_S = 60.0


class RerunManager:
    def __init__(self, service: Service, node: Node, notify: Notify, stop: asyncio.Event, worker: bool = True) -> None:
        self.service = service
        self.worker = worker  # False: this process queues and cancels, the bot's worker runs them
        self.config = service.config
        self.node = node
        self.notify = notify
        self.stop = stop
        self.store = service.store.reruns
        self.wake = asyncio.Event()
        self.current: tuple[Rerun, Execution] | None = None

    # --- requests --------------------------------------------------------------------------------

    async def request(
        self,
        recipe: str,
        version: str | None,
        times: int,
        by: str,
        room_id: str | None = None,
        event_id: str | None = None,
    ) -> tuple[Rerun, int, bool]:
        """Queue a rerun; returns it, its position (1 = next), and whether it folded into an existing one.

        Every rerun passes here (chat, CLI, the automatic ones after a sweep), so this is where the names
        that become the runner's argv are checked: a recipe name from a run dir is not trusted anywhere.
        """
        if not is_recipe_name(recipe):
            raise RerunError(f"not a recipe name: {escape_name(recipe[:40])!r} ({RECIPE_NAME_RULE})")
        runner = self.config.runner
        if not 1 <= times <= runner.max_times:
            raise RerunError(f"x{times}: at most x{runner.max_times} isolated runs per request (runner.max_times)")
        answer = await self.service.why(recipe)  # raises UnknownNameError with close names
        version = version or answer.version
        if version is None:
            raise RerunError(f"{recipe} has no released version run to repeat; name a version")
        if not re.match(runner.version_pattern, version):
            raise RerunError(f"not a version: {version[:40]!r} (like 1.0.0+v1.6.870-0)")
        active = await asyncio.to_thread(self.store.active)
        for position, existing in enumerate(active, start=1):
            if existing.recipe == recipe and existing.version == version:
                return existing, position, True
        if len(active) >= runner.queue_max:
            raise RerunError(f"the rerun queue is full ({runner.queue_max}); try again when it drains")
        rerun = await asyncio.to_thread(self.store.add, recipe, version, times, by, room_id, event_id)
        self.wake.set()
        return rerun, len(active) + 1, False

    async def cancel(self, recipe: str | None) -> tuple[list[Rerun], list[Rerun]]:
        """Cancel queued reruns (of one recipe, or all) and stop the running one if it matches.

        Returns what was cancelled, and what runs in another process (a manager that is not the
        worker, as the CLI's, cannot stop the bot's rerun: it cancels only queued ones).
        """
        cancelled, elsewhere = [], []
        for rerun in await asyncio.to_thread(self.store.active):
            if recipe is not None and rerun.recipe != recipe:
                continue
            if self.current is not None and self.current[0].id == rerun.id:
                self.current[1].cancel()
            elif not self.worker and rerun.state is not RerunState.QUEUED:
                elsewhere.append(rerun)
                continue
            elif not await asyncio.to_thread(self.store.cancel_if_active, rerun.id, "cancelled by an operator"):
                continue  # it ended meanwhile
            cancelled.append(rerun)
        return cancelled, elsewhere

    async def queue(self) -> list[Rerun]:
        return await asyncio.to_thread(self.store.active)

    # --- the worker ------------------------------------------------------------------------------

    async def recover(self) -> bool:
        """After a restart: what was running did not finish (report it); the queue goes on.

        False when the store cannot be written (a full disk): logged, and the worker tries again, so a
        bot that restarts on a full disk keeps running instead of crash-looping.
        """
        try:
            for rerun in await asyncio.to_thread(self.store.active):
                if rerun.state in (RerunState.RUNNING, RerunState.WAITING):
                    await self._interrupted(rerun, "a bot restart")
        except STORE_ERRORS as exc:
            log.error("reruns: cannot write its store (%s); interrupted reruns are reported once it can", exc)
            return False
        return True

    async def _interrupted(self, rerun: Rerun, by: str) -> None:
        text = f"The isolation rerun of {rerun.recipe} {rerun.version} was interrupted by {by}; "
        text += "its result is unknown. Ask again to repeat it."
        await self._end(rerun, RerunState.INTERRUPTED, text, RerunResult.INTERRUPTED)

    async def run_forever(self) -> None:
        """Run the queue until stopped. A store that cannot be written stops no more than the rerun it
        was recording: the error is logged, the rerun is reported as interrupted once the store can be
        written again, and the queue goes on (after a pause, or at once when a request comes)."""
        recovered = False
        unrecorded: dict[int, str] = {}  # reruns whose end could not be stored, and why
        while not self.stop.is_set():
            self.wake.clear()  # before reading the queue: a request queued during the read still wakes us
            recovered = recovered or await self.recover()
            current: Rerun | None = None
            try:
                for rerun_id, why in list(unrecorded.items()):
                    rerun = await asyncio.to_thread(self.store.get, rerun_id)
                    if rerun.state in (RerunState.RUNNING, RerunState.WAITING):
                        await self._interrupted(rerun, f"a store the bot could not write ({why})")
                    del unrecorded[rerun_id]
                queued = await asyncio.to_thread(self.store.queued)
                if queued:
                    current = queued[0]
                    await self.process(current)
                    continue
            except STORE_ERRORS as exc:
                log.error(
                    "reruns: cannot write its store (%s); the queue waits %.0f s or for a new request",
                    exc,
                    STORE_RETRY_S,
                )
                if current is not None:
                    unrecorded[current.id] = str(exc)
                await wait_for_wake(self.wake, self.stop, timeout=STORE_RETRY_S)
                continue
            await wait_for_wake(self.wake, self.stop, timeout=None if recovered else STORE_RETRY_S)

    async def process(self, rerun: Rerun) -> bool:
        """Preflight, run N times, report. True when the runs ran (whatever their outcome)."""
        if not await self._preflight(rerun):
            return False
        execution = Execution()
        self.current = (rerun, execution)
        await asyncio.to_thread(self.store.set_state, rerun.id, RerunState.RUNNING)
        attempts: list[Attempt] = []
        try:
            for n in range(1, rerun.times + 1):
                attempts.append(await self._attempt(rerun, execution, n))
                if execution.cancelled.is_set():
                    break
        finally:
            self.current = None
        state = RerunState.CANCELLED if execution.cancelled.is_set() else RerunState.DONE
        text = await final_report(self.service, rerun, attempts)
        await self._end(rerun, state, text, await asyncio.to_thread(result, self.service.store, attempts))
        return any(a.outcome in (AttemptOutcome.RAN, AttemptOutcome.TIMEOUT) for a in attempts)

    async def _end(self, rerun: Rerun, state: RerunState, text: str, ended: RerunResult) -> None:
        """Store how the rerun ended, then tell the operator (the notification carries the result)."""
        await asyncio.to_thread(self.store.set_state, rerun.id, state, text, ended)
        rerun.state, rerun.message, rerun.result = state, text, ended
        await self.notify(rerun, NotifyKind.FINAL, text)

    async def _preflight(self, rerun: Rerun) -> bool:
        waited_since = time.monotonic()
        said = False
        while not self.stop.is_set():
            if not (await asyncio.to_thread(self.store.get, rerun.id)).state.active:
                return False  # cancelled while it waited (here, or by `ccci-bot cancel`)
            try:
                state = await asyncio.to_thread(self.node.state)
                busy = None if state.idle else state.describe()
            except NodeUnreachable as exc:
                busy = str(exc)
            if busy is None:
                return True
            if time.monotonic() - waited_since >= self.config.runner.busy_wait_s:
                text = (
                    f"Gave up on the isolation rerun of {rerun.recipe} {rerun.version}: the CI node stayed busy "
                    f"for {self.config.runner.busy_wait_s:.0f} s ({busy}). Nothing was run."
                )
                await self._end(rerun, RerunState.FAILED, text, RerunResult.NODE_BUSY)
                return False
            if not said:
                await asyncio.to_thread(self.store.set_state, rerun.id, RerunState.WAITING, busy)
                await self.notify(
                    rerun,
                    NotifyKind.WAITING,
                    f"Waiting for the CI node to be idle before rerunning {rerun.recipe}: {busy}",
                )
                said = True
            if await sleep_unless(self.stop, self.config.runner.busy_poll_s):
                return False
        return False

    @property
    def log_dir(self) -> Path:
        return self.config.data_dir / LOG_DIR

    def log_path(self, run_id: str) -> Path:
        """Where an attempt's log goes: ``data_dir/reruns/<run id>.log`` (capped, rotated: runlog)."""
        return self.log_dir / f"{run_id}{LOG_SUFFIX}"

    async def _attempt(self, rerun: Rerun, execution: Execution, n: int) -> Attempt:
        run_id = await asyncio.to_thread(new_run_id, self.config.ccci.runs_dir, rerun.id, n)
        log_path = self.log_path(run_id)
        await asyncio.to_thread(rotate, self.log_dir, self.config.runner.logs_kept - 1)  # room for this one

        started = time.monotonic()
        live = live_log_url(self.config.web.public_url, run_id)

        async def progress(files: list[str], ended: bool) -> None:
            line = progress_line(rerun, n, files, time.monotonic() - started, live, ended)
            await self.notify(rerun, NotifyKind.PROGRESS, line)

        await self.notify(rerun, NotifyKind.PROGRESS, progress_line(rerun, n, [], 0.0, live))
        attempt = await execution.run(self.config, rerun.recipe, rerun.version, run_id, log_path, progress)
        if attempt.run_id is not None:
            await asyncio.to_thread(self.service.store.ingest.mark_bot_run, attempt.run_id)
            await self.service.ingest()
        try:
            leftovers = await asyncio.to_thread(self.node.leftovers)
        except NodeUnreachable as exc:
            leftovers = [f"(teardown not verified: {exc})"]
        attempt.n, attempt.leftovers = n, leftovers
        await asyncio.to_thread(self.store.add_attempt, rerun.id, attempt)
        rerun.attempts.append(attempt)
        return attempt
