"""The running bot: one event loop with the Matrix sync, the outbox, the report loop and the rerun queue.

:class:`Bot` wires the parts and runs their lifecycle; each part has one job:

- :mod:`bot.runtime.rooms`: which configured rooms are joined, joining the rest, invites;
- :mod:`bot.runtime.sync_loop`: sync, record each batch's commands in the inbox, then save the token;
- :mod:`bot.runtime.command_tasks`: each recorded command its own task, flood control, resume;
- :mod:`bot.runtime.confirmations`: an operator's 👍 on a `learn` proposal teaches it;
- :mod:`bot.runtime.undecryptable`: encrypted events not decrypted yet, retried until their key comes;
- :mod:`bot.runtime.cross_signing`: the device cross-signed after the first sync;
- :mod:`bot.runtime.rerun_notices`: rerun news into its room;
- :mod:`bot.runtime.report_loop`: sweep summaries, the red report, verdict news.

Commands are answered exactly once and never wait on each other: a batch's commands are recorded in
the inbox before the sync token is saved, then each is handled as its own task (a slow ingest does
not hold up a `help`). A command is marked handled in the same transaction that queues its answer;
what a crash or a stop leaves in the inbox is resumed on start, so nothing is skipped or doubled.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from functools import partial

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.backoff import Backoff, sleep_unless
from bot.chat.dispatch import Dispatcher, why_url
from bot.chat.outbox import OutboxSender
from bot.config import Config, secret_from_env
from bot.masking import Masker
from bot.matrix.client import MatrixConnection, Unavailable
from bot.matrix.events import ChatMessage
from bot.reruns.manager import RerunManager
from bot.reruns.preflight import Node
from bot.runtime.command_tasks import CommandTasks
from bot.runtime.confirmations import Confirmations
from bot.runtime.cross_signing import CrossSigning
from bot.runtime.report_loop import Reporter
from bot.runtime.rerun_notices import RerunNotices
from bot.runtime.rooms import JoinedRooms
from bot.runtime.sdnotify import Notifier, exit_deadline
from bot.runtime.sync_loop import SyncLoop
from bot.runtime.undecryptable import Undecryptable
from bot.service import Service
from bot.web.hooks import hook_routes
from bot.web.metrics import Metrics
from bot.web.routes import make_app
from bot.web.server import WebServer, start_server
from bot.web.warm import warm_logs
from commands import BotState, Context

log = logging.getLogger(__name__)
STOP_DEADLINE_S = 8.0  # after a stop; systemd waits TimeoutStopSec=15s before SIGKILL


class Bot:
    def __init__(
        self, config: Config, service: Service, connection: MatrixConnection, notifier: Notifier | None = None
    ) -> None:
        self.config = config
        self.notifier = notifier or Notifier({})  # systemd's notify socket; a no-op outside systemd
        self.service = service
        self.conn = connection
        self.chat = service.store.chat
        self.stop = asyncio.Event()
        self.state = BotState()
        self.backoff = Backoff(config.matrix.backoff_min_s, config.matrix.backoff_max_s)
        self.masker = Masker.from_environment(config.secret_envs, connection.environ)  # secrets never reach the room
        self.metrics = Metrics(service.store)
        self.outbox = OutboxSender(
            self.chat,
            self.conn.send,
            Backoff(config.matrix.backoff_min_s, config.matrix.backoff_max_s),
            self.stop,
            self.masker,
        )
        self.dispatcher = Dispatcher(self._context, config.access, self.conn.rooms.power_level, why_url)
        # The reporter is made after the rerun queue it drives; rerun and join news wake it through these.
        self.rerun_notices = RerunNotices(
            self.chat, self.outbox.wake.set, lambda: self.reporter.wake.set(), self.metrics
        )
        node = Node(config.ccci.active_dir, config.docker.base_url, config.docker.allowed_stacks)
        self.reruns = RerunManager(service, node, self.rerun_notices.notify, self.stop)
        self.rooms = JoinedRooms(config, self.conn.rooms, self.state, lambda: self.reporter.wake.set())
        self.reporter = Reporter(
            service,
            node,
            self.rooms.report_rooms,
            self.outbox.wake.set,
            self.stop,
            self.reruns,
            on_ingested=partial(warm_logs, service) if config.web.listen else None,
        )
        self.command_tasks = CommandTasks(
            config, self.chat, self.dispatcher, self.outbox.wake.set, self.metrics, self.stop
        )
        self.confirmations = Confirmations(
            config, service, self.chat, self.conn.rooms.power_level, self.outbox.wake.set
        )
        self.cross_signing = CrossSigning(config, self.conn)
        self.state.e2ee = self.cross_signing.e2ee_status
        undecryptable = Undecryptable(config, self.conn, self.rooms, service.store, self.chat, self.outbox.wake.set)
        self.sync_loop = SyncLoop(
            config,
            self.conn,
            service.store,
            self.chat,
            self.rooms,
            self.command_tasks,
            undecryptable,
            self.cross_signing,
            state=self.state,
            metrics=self.metrics,
            notifier=self.notifier,
            backoff=self.backoff,
            stop=self.stop,
            confirmations=self.confirmations,
        )
        self.exit_code = 0

    def _context(self, msg: ChatMessage) -> Context:
        return Context(
            self.service,
            self.config.matrix.command_prefix,
            msg.sender,
            msg.room_id,
            self.state,
            msg.event_id,
            self.reruns,
        )

    # --- lifecycle -------------------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)

    def request_stop(self) -> None:
        """SIGTERM/SIGINT: tell systemd we are stopping, then stop every loop (exit 0)."""
        if not self.stop.is_set():
            log.info("stopping on a signal")
            self.notifier.stopping("stopping: finishing the current step")
        self.stop.set()

    async def run(self) -> None:
        """Connect (retrying while the homeserver is down), then sync, send and scan until stopped."""
        while not self.stop.is_set():
            self.notifier.status(f"logging in to {self.config.matrix.homeserver}")
            try:
                await self.conn.connect()
                break
            except Unavailable as exc:
                delay = self.backoff.next_delay()
                log.warning("%s; retrying in %.1f s", exc, delay)
                self.notifier.status(f"homeserver unreachable, retrying in {delay:.0f} s")
                if await sleep_unless(self.stop, delay):
                    return
        self.backoff.reset()
        tasks = [
            asyncio.create_task(self.sync_loop.run(), name="sync"),
            asyncio.create_task(self.outbox.run(), name="outbox"),
            asyncio.create_task(self.reporter.run_forever(), name="reports"),
            asyncio.create_task(self.reruns.run_forever(), name="reruns"),
        ]
        for task in tasks:
            task.add_done_callback(self._task_ended)
        scheduler = self._start_scheduler()
        server = await self._start_server()
        try:
            await self.stop.wait()
        finally:
            scheduler.shutdown(wait=False)
            if server is not None:
                await server.cleanup()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.command_tasks.stop_commands()
            await self.confirmations.stop()
            await self.conn.close()

    def _start_scheduler(self) -> AsyncIOScheduler:
        """The red report as an APScheduler job: missed slots coalesce into one, within the grace time."""
        reports = self.config.reports
        scheduler = AsyncIOScheduler(timezone=reports.timezone)
        scheduler.add_job(
            self.reporter.scheduled,
            self.reporter.trigger,
            id="red-report",
            coalesce=True,
            misfire_grace_time=int(reports.misfire_grace_s),
            max_instances=1,
        )
        scheduler.start()
        self.state.next_report = lambda: _next_run(scheduler, "red-report")
        log.info("red report scheduled: %r (%s)", reports.cron, reports.timezone)
        return scheduler

    async def _start_server(self) -> WebServer | None:
        listen = self.config.web.listen
        if listen is None:
            return None
        app = make_app(self.service, self.masker, self.metrics)
        secret_env = self.config.reports.webhook_secret_env
        if secret_env:
            secret = secret_from_env(secret_env, "reports.webhook_secret_env")
            app.add_routes(hook_routes(secret or "", self.reporter.wake.set, self.config.web.client_timeout_s))
        try:
            return await start_server(app, listen, self.config.web)
        except OSError as exc:
            log.error("web.listen %s: cannot listen (%s); running without the HTTP server", listen, exc)
            return None

    def _task_ended(self, task: asyncio.Task[None]) -> None:
        """A loop that ends on its own is a bug: log it and stop, so a supervisor restarts the bot."""
        if task.cancelled() or self.stop.is_set():
            return
        exc = task.exception()
        log.critical("%s loop ended unexpectedly: %r; stopping", task.get_name(), exc, exc_info=exc)
        self.exit_code = 1
        self.stop.set()


def _next_run(scheduler: AsyncIOScheduler, job_id: str) -> float | None:
    job = scheduler.get_job(job_id)
    return job.next_run_time.timestamp() if job is not None and job.next_run_time is not None else None


async def run_bot(config: Config) -> int:
    notifier = Notifier()
    notifier.status("opening the store")
    service = Service(config)
    bot = Bot(config, service, MatrixConnection(config.matrix, config.data_dir), notifier)
    bot.install_signal_handlers()
    watchdog = asyncio.create_task(notifier.feed_watchdog(bot.stop), name="watchdog")
    try:
        await bot.run()
    finally:
        bot.stop.set()
        await watchdog
        service.close()
        notifier.close()
        exit_deadline(STOP_DEADLINE_S, bot.exit_code)  # a worker thread stuck in I/O must not hold the exit
    return bot.exit_code
