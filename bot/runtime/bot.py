"""The running bot: one event loop with the Matrix sync, the outbox, and periodic ingest.

Commands are answered exactly once and never wait on each other: a batch's commands are recorded in
the inbox before the sync token is saved, then each is handled as its own task (a slow ingest does
not hold up a `help`). A command is marked handled in the same transaction that queues its answer;
what a crash or a stop leaves in the inbox is resumed on start, so nothing is skipped or doubled.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import time
from dataclasses import dataclass
from functools import partial
from html import escape

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.backoff import Backoff, sleep_unless
from bot.chat.dispatch import Dispatcher, parse, why_url
from bot.chat.messages import edit, notice, reaction
from bot.chat.outbox import OutboxSender
from bot.config import Config, secret_from_env
from bot.masking import Masker
from bot.matrix.client import MatrixConnection, MatrixError, Unavailable
from bot.matrix.crosssign import CrossSignError, CrossSignUnavailable, Session, ensure_cross_signed
from bot.matrix.events import ChatMessage, SyncBatch
from bot.model.reruns import NotifyKind
from bot.reruns.manager import RerunManager
from bot.reruns.preflight import Node
from bot.runtime.report_loop import Reporter
from bot.runtime.sdnotify import Notifier, exit_deadline
from bot.service import Service
from bot.store.chat import ChatStore, Outgoing, ref
from bot.store.reruns import Rerun
from bot.web.hooks import hook_routes
from bot.web.metrics import Metrics
from bot.web.routes import make_app
from bot.web.server import WebServer, start_server
from bot.web.warm import warm_logs
from commands import BotState, Context

log = logging.getLogger(__name__)
SINCE_KEY = "matrix.since"
UNDECRYPTED_KEY = "e2ee.undecrypted"  # encrypted events not decrypted yet: retried after every sync
UNDECRYPTED_MAX = 200
ACK_AFTER_S = 1.0
STOP_DEADLINE_S = 8.0  # after a stop; systemd waits TimeoutStopSec=15s before SIGKILL


@dataclass(frozen=True)
class InFlight:
    """A command being handled: whose it is (flood control counts per user) and its task."""

    sender: str
    task: asyncio.Task[None]
    counted: bool  # False for a refusal, which does not hold a place


class Bot:
    def __init__(
        self, config: Config, service: Service, connection: MatrixConnection, notifier: Notifier | None = None
    ) -> None:
        self.config = config
        self.notifier = notifier or Notifier({})  # systemd's notify socket; a no-op outside systemd
        self.service = service
        self.conn = connection
        self.chat = ChatStore(service.store)
        self.stop = asyncio.Event()
        self.state = BotState()
        self.rooms: dict[str, str] = {}  # room id → how it was configured (id or alias)
        self.joined_at: dict[str, int] = {}
        self.backoff = Backoff(config.matrix.backoff_min_s, config.matrix.backoff_max_s)
        self.masker = Masker.from_environment(config.secret_envs)  # secrets never reach the room
        self.metrics = Metrics(service.store)
        self.outbox = OutboxSender(
            self.chat,
            self.conn.send,
            Backoff(config.matrix.backoff_min_s, config.matrix.backoff_max_s),
            self.stop,
            self.masker,
        )
        self.dispatcher = Dispatcher(self._context, config.access, self.conn.rooms.power_level, why_url)
        node = Node(config.ccci.active_dir, config.docker.base_url, config.docker.allowed_stacks)
        self.reruns = RerunManager(service, node, self._notify_rerun, self.stop)
        self.reporter = Reporter(
            service,
            node,
            self._report_rooms,
            self.outbox.wake.set,
            self.stop,
            self.reruns,
            on_ingested=partial(warm_logs, service) if config.web.listen else None,
        )
        self.in_flight: dict[str, InFlight] = {}  # command event id → its task
        self.told_limit: set[str] = set()  # users told they hit access.max_in_flight (until one ends)
        self.status_messages: dict[int, str] = {}  # rerun id → txn id of its status message (edited in place)
        self.exit_code = 0
        self.synced = asyncio.Event()  # set after each completed sync: lets tests and the demo wait on it
        self.cross_signing: str | None = None  # None: not tried yet this start
        self.state.e2ee = self._e2ee_status
        self.ready = False  # READY=1 sent (after the first sync)

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
            asyncio.create_task(self._sync_loop(), name="sync"),
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
            await self.stop_commands()
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

    def _wanted_rooms(self) -> list[str]:
        rooms = list(self.config.matrix.rooms)
        rooms += [r for r in self.config.reports.report_rooms(self.config.matrix.rooms) if r not in rooms]
        return rooms

    def _report_rooms(self) -> list[str]:
        """Joined report rooms' ids (reports wait until at least one is joined)."""
        wanted = set(self.config.reports.report_rooms(self.config.matrix.rooms))
        return sorted(room_id for room_id, configured in self.rooms.items() if configured in wanted)

    def _task_ended(self, task: asyncio.Task[None]) -> None:
        """A loop that ends on its own is a bug: log it and stop, so a supervisor restarts the bot."""
        if task.cancelled() or self.stop.is_set():
            return
        exc = task.exception()
        log.critical("%s loop ended unexpectedly: %r; stopping", task.get_name(), exc, exc_info=exc)
        self.exit_code = 1
        self.stop.set()

    async def _join_rooms(self) -> None:
        for room in self._wanted_rooms():
            if room in self.rooms.values():
                continue
            try:
                room_id = await self.conn.rooms.resolve(room)
                await self.conn.rooms.join(room_id)
                self.rooms[room_id] = room
                log.info("joined %s (%s)", room, room_id)
                self.reporter.wake.set()  # reports held back until a report room was joined
            except (MatrixError, Unavailable) as exc:
                log.error("%s (will try again)", exc)
        self.state.rooms = sorted(self.rooms.values())

    # --- sync ------------------------------------------------------------------------------------

    async def _sync_loop(self) -> None:
        since = await asyncio.to_thread(self.service.store.get_meta, SINCE_KEY)
        first = since is None
        timeout_ms = int(self.config.matrix.sync_timeout_s * 1000)
        while not self.stop.is_set():
            if len(set(self.rooms.values())) < len(self._wanted_rooms()):
                await self._join_rooms()
            try:
                batch = await self.conn.sync(since, 0 if first else timeout_ms)
            except Unavailable as exc:
                self.metrics.sync_error()
                self.state.last_sync_error = str(exc)
                delay = self.backoff.next_delay()
                log.warning("%s; retrying in %.1f s", exc, delay)
                self.notifier.status(f"sync failing, retrying in {delay:.0f} s: {exc}")
                if await sleep_unless(self.stop, delay):
                    return
                continue
            except MatrixError as exc:
                self.metrics.sync_error()
                log.error("%s; stopping", exc)
                self.state.last_sync_error = str(exc)
                self.stop.set()
                return
            self.backoff.reset()
            recovered = self.state.last_sync_error is not None
            self.state.last_sync, self.state.last_sync_error = time.time(), None
            self.joined_at.update(batch.own_joins)
            if self.conn.e2ee and self.cross_signing is None:
                await self._cross_sign()  # after the first sync: nio has uploaded the device's keys by then
            # A fresh bot's first sync is history: answer only what was sent after it started.
            await self._record(batch, not_before_ms=int(self.state.started_at * 1000) if first else 0)
            since, first = batch.next_batch, False
            await asyncio.to_thread(self.service.store.set_meta, SINCE_KEY, since)
            await self.start_recorded()  # after a restart, this resumes what the last process left
            if not self.ready or recovered:
                self._tell_ready()
            self.synced.set()
            self.synced.clear()

    def _tell_ready(self) -> None:
        """READY=1 after login, the first sync and the room joins (a room that could not be joined is
        named in STATUS and retried; it does not hold the service in "activating" forever). Sent
        again with a fresh STATUS when syncing recovers; READY=1 twice is harmless."""
        self.ready = True
        missing = [r for r in self._wanted_rooms() if r not in self.rooms.values()]
        status = f"ready: {len(self.rooms)} room(s) joined"
        if missing:
            status += f"; not joined yet (retrying): {', '.join(missing)}"
        self.notifier.ready(status)
        log.info("%s", status)

    async def _record(self, batch: SyncBatch, not_before_ms: int) -> None:
        """Invites, the encryption warning, and the batch's commands into the inbox (before the token moves)."""
        for room_id in batch.invites:
            if room_id in self.rooms or room_id in self.config.matrix.rooms:
                await self._accept_invite(room_id)
            else:
                log.info("ignoring an invite to %s: not a configured room", room_id)
        late: list[ChatMessage] = []
        if self.conn.e2ee:
            late = await self._undecrypted(batch, not_before_ms)
        else:
            await self._warn_encrypted(batch)
        commands = [m for m in batch.messages + late if m.ts_ms >= not_before_ms and self._is_command_for_us(m)]
        if commands:
            await asyncio.to_thread(self.chat.record, commands)

    # --- commands: each its own task -------------------------------------------------------------

    async def start_recorded(self) -> None:
        """A task for every recorded, unanswered command that has none yet, in the order they were sent."""
        for msg, acked in await asyncio.to_thread(self.chat.unanswered):
            if msg.event_id not in self.in_flight and not self.stop.is_set():
                self._start(msg, acked)

    def _start(self, msg: ChatMessage, acked: bool) -> None:
        limit = self.config.access.max_in_flight
        running = sum(1 for f in self.in_flight.values() if f.sender == msg.sender and f.counted)
        if running >= limit:
            tell = msg.sender not in self.told_limit
            self.told_limit.add(msg.sender)
            coro, counted = self._refuse(msg, limit, tell), False
        else:
            coro, counted = self._command(msg, acked), True
        task = asyncio.create_task(coro, name=f"command {msg.event_id}")
        self.in_flight[msg.event_id] = InFlight(msg.sender, task, counted)
        task.add_done_callback(partial(self._command_ended, msg.event_id))

    def _command_ended(self, event_id: str, task: asyncio.Task[None]) -> None:
        ended = self.in_flight.pop(event_id)
        running = sum(1 for f in self.in_flight.values() if f.sender == ended.sender and f.counted)
        if running < self.config.access.max_in_flight:  # room again: a next refusal is explained again
            self.told_limit.discard(ended.sender)
        if not task.cancelled() and task.exception() is not None:
            # Not the handler (the dispatcher answers for it): storing the answer failed. It stays
            # in the inbox and is tried again after the next sync.
            log.error("command %s could not be answered", event_id, exc_info=task.exception())

    async def stop_commands(self) -> None:
        """Cancel the commands in flight and wait for them; they stay in the inbox and are resumed on start."""
        commands = [f.task for f in self.in_flight.values()]
        for task in commands:
            task.cancel()
        await asyncio.gather(*commands, return_exceptions=True)

    async def _command(self, msg: ChatMessage, acked: bool) -> None:
        parsed = parse(msg.body, self.config.matrix.command_prefix)
        if parsed is None:  # recorded as a command, so it parsed then; nothing to answer now
            await asyncio.to_thread(self.chat.handle, msg.event_id, msg.room_id, msg.sender, "-", [])
            return
        task = asyncio.create_task(self.dispatcher.answer(msg, parsed))
        try:
            done, _ = await asyncio.wait({task}, timeout=ACK_AFTER_S)
            if not done and not acked:  # slow: say we are on it (its answer is queued after this)
                out = [Outgoing(msg.room_id, "m.reaction", reaction(msg))]
                await asyncio.to_thread(self.chat.ack, msg.event_id, out)
                self.outbox.wake.set()
            reply = await task
        finally:
            task.cancel()  # no-op when done; on shutdown the handler stops with this task
        out = [Outgoing(msg.room_id, "m.room.message", dict(reply.content))]
        if await asyncio.to_thread(self.chat.handle, msg.event_id, msg.room_id, msg.sender, reply.command, out):
            self.metrics.command(reply.command)
        self.outbox.wake.set()

    async def _refuse(self, msg: ChatMessage, limit: int, tell: bool) -> None:
        """Flood control: over the limit, the command is handled without running; the first is told why."""
        parsed = parse(msg.body, self.config.matrix.command_prefix)
        name = parsed.name[:40] if parsed else "?"
        text = (
            f"Sorry, you already have {limit} commands running, so `{name}` was not run, nor will any more "
            "of yours be until one of them is answered. Ask again then."
        )
        log.warning("%s has %d commands in flight; refusing %s (%s)", msg.sender, limit, name, msg.event_id)
        out = [Outgoing(msg.room_id, "m.room.message", notice(text, escape(text), msg))] if tell else []
        await asyncio.to_thread(self.chat.handle, msg.event_id, msg.room_id, msg.sender, "refused", out)
        self.outbox.wake.set()

    async def _accept_invite(self, room_id: str) -> None:
        try:
            await self.conn.rooms.join(room_id)
            self.rooms.setdefault(room_id, room_id)
        except (MatrixError, Unavailable) as exc:
            log.warning("could not accept the invite to %s: %s", room_id, exc)

    def _is_command_for_us(self, msg: ChatMessage) -> bool:
        if msg.room_id not in self.rooms or msg.sender == self.conn.user_id or msg.msgtype != "m.text":
            return False
        if msg.ts_ms < self.joined_at.get(msg.room_id, 0):
            return False  # sent before the bot joined
        return parse(msg.body, self.config.matrix.command_prefix) is not None

    async def _notify_rerun(self, rerun: Rerun, kind: NotifyKind, text: str) -> None:
        """Rerun news into its room: one status message edited in place, other news as replies."""
        log.info("rerun %d (%s %s): %s", rerun.id, rerun.recipe, rerun.version, text.splitlines()[0])
        if kind is NotifyKind.FINAL:
            self.reporter.wake.set()  # its outcome may settle a verdict the latest summary shows
            if rerun.result is not None:
                self.metrics.rerun(rerun.result)
        if rerun.room_id is None:
            return
        to = ChatMessage(rerun.event_id or "", rerun.room_id, rerun.requested_by, "", "m.text", 0)
        html = f"<pre><code>{escape(text)}</code></pre>" if kind is NotifyKind.FINAL else escape(text)
        if kind is NotifyKind.PROGRESS and rerun.id in self.status_messages:
            content = edit(ref(self.status_messages[rerun.id]), text, html)  # the outbox fills in its event id
            await asyncio.to_thread(self.chat.enqueue, [Outgoing(rerun.room_id, "m.room.message", content)])
        else:
            content = notice(text, html, to if rerun.event_id else None)
            txn = await asyncio.to_thread(self.chat.enqueue, [Outgoing(rerun.room_id, "m.room.message", content)])
            if kind is NotifyKind.PROGRESS:
                self.status_messages[rerun.id] = txn[0]
        self.outbox.wake.set()

    # --- end-to-end encryption -------------------------------------------------------------------

    async def _cross_sign(self) -> None:
        """Sign the bot's device with its account's self-signing key (made here, or read with the recovery key)."""
        m = self.config.matrix
        assert m.homeserver
        try:
            # Unset variables are a state to report here (how to fix it), not a config error that stops the bot.
            password = os.environ.get(m.password_env) if m.password_env else None
            recovery = os.environ.get(m.recovery_key_env) if m.recovery_key_env else None
            session = Session(m.homeserver, self.conn.user_id, self.conn.device_id, self.conn.access_token)
            outcome = await ensure_cross_signed(session, self.config.data_dir, password, recovery)
        except CrossSignUnavailable as exc:
            log.warning("cross-signing deferred to the next sync: %s", exc)
            return
        except CrossSignError as exc:
            log.error("device %s is not cross-signed: %s", self.conn.device_id, exc)
            self.cross_signing = f"device {self.conn.device_id} not cross-signed ({exc})"
            return
        log.info("device %s: %s", self.conn.device_id, outcome)
        self.cross_signing = f"device {self.conn.device_id} {outcome}"

    def _e2ee_status(self) -> str:
        if not self.conn.e2ee:
            return "E2EE off"
        changes = "; ".join(
            f"device key changed: {c.user_id} {c.device_id} (first {c.first_key[:8]}…, now {c.new_key[:8]}…)"
            for c in self.conn.crypto.key_changes
        )
        return f"E2EE on, {self.cross_signing or 'cross-signing not checked yet'}" + (f"; {changes}" if changes else "")

    async def _undecrypted(self, batch: SyncBatch, not_before_ms: int) -> list[ChatMessage]:
        """Keep what could not be decrypted, retry it after each sync, and say so when a key never comes.

        Returns the messages that decrypted now (their room key arrived since). The pending set is
        kept in the store with the sync token, so a restart keeps retrying instead of forgetting.
        """
        raw = await asyncio.to_thread(self.service.store.get_meta, UNDECRYPTED_KEY)
        pending: dict[str, dict[str, object]] = json.loads(raw) if raw else {}
        before = dict(pending)
        now = time.time()
        for ev in batch.encrypted:
            if ev.sender == self.conn.user_id or ev.room_id not in self.rooms or ev.event_id in pending:
                continue
            if ev.ts_ms < max(not_before_ms, self.joined_at.get(ev.room_id, 0)) or len(pending) >= UNDECRYPTED_MAX:
                continue
            log.warning(
                "cannot decrypt %s from %s in %s yet (no room key); retrying when it arrives",
                ev.event_id,
                ev.sender,
                ev.room_id,
            )
            pending[ev.event_id] = {"room_id": ev.room_id, "sender": ev.sender, "ts_ms": ev.ts_ms, "source": ev.source}
            pending[ev.event_id]["seen"] = now
            await self.conn.crypto.request_key(ev.room_id, ev.source)
        decrypted: list[ChatMessage] = []
        given_up: list[ChatMessage] = []
        for event_id, item in list(pending.items()):
            room_id, source = str(item["room_id"]), item["source"]
            msg = self.conn.crypto.decrypt(room_id, source) if isinstance(source, dict) else None
            if msg is not None:
                log.info("decrypted %s from %s now that its room key arrived", event_id, msg.sender)
                decrypted.append(msg)
                del pending[event_id]
            elif now - float(str(item["seen"])) >= self.config.matrix.undecryptable_notice_s:
                given_up.append(ChatMessage(event_id, room_id, str(item["sender"]), "", "m.encrypted", 0))
                del pending[event_id]
        for msg in given_up:
            log.error("gave up decrypting %s from %s in %s: no room key arrived", msg.event_id, msg.sender, msg.room_id)
            text = (
                f"{msg.sender}: I could not decrypt this message: its room key never reached my device. "
                "If it was a command for me, please send it again."
            )
            out = [Outgoing(msg.room_id, "m.room.message", notice(text, escape(text), msg))]
            await asyncio.to_thread(self.chat.handle, msg.event_id, msg.room_id, msg.sender, "undecryptable", out)
            self.outbox.wake.set()
        if pending != before:
            await asyncio.to_thread(self.service.store.set_meta, UNDECRYPTED_KEY, json.dumps(pending))
        return decrypted

    async def _warn_encrypted(self, batch: SyncBatch) -> None:
        rooms = {m.room_id for m in batch.encrypted} | {r for r in self.rooms if self.conn.rooms.is_encrypted(r)}
        for room_id in rooms:
            key = f"encrypted-warning:{room_id}"
            if await asyncio.to_thread(self.service.store.get_meta, key):
                continue
            log.warning("room %s is end-to-end encrypted and matrix.e2ee is off: commands there are unseen", room_id)
            text = (
                "This room is end-to-end encrypted, and this ccci-bot runs with encryption turned off "
                "(matrix.e2ee: false). Commands sent here are not seen; use an unencrypted ops room."
            )
            await asyncio.to_thread(self.chat.enqueue, [Outgoing(room_id, "m.room.message", notice(text, text))])
            await asyncio.to_thread(self.service.store.set_meta, key, "said")
            self.outbox.wake.set()


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
