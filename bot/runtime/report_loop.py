"""Posting reports: the sweep summary when a sweep finishes, the red report on schedule, verdict news.

Runs in the bot's event loop; every store call goes through a worker thread. Each report is
recorded in the transaction that queues its messages (see :mod:`bot.store.reports`), so restarts,
re-written artifacts and a scheduler firing twice never produce a second copy.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from bot.answers.suggest import UnknownNameError
from bot.artifacts.controls import escape_name
from bot.backoff import wait_for_wake
from bot.chat.messages import edit, notice, thread_reply
from bot.model.records import Verdict
from bot.model.reports import Change, RedReport, SweepReport, verdict_moved
from bot.render import reports as render
from bot.reports.autorerun import auto_rerun_candidates
from bot.reports.compose import build_red_report, build_sweep_report, red_digest
from bot.reports.watch import SweepState, due_summary, sweep_states
from bot.reruns.manager import RerunManager
from bot.reruns.preflight import Node
from bot.schedule import latest_slot, parse_cron
from bot.service import Service
from bot.store.chat import Outgoing, new_txn_id, ref
from bot.store.reports import ReportKind, slot_key, sweep_key

log = logging.getLogger(__name__)
BASELINE_KEY = "reports.baseline_done"
TICK_KEY = "reports.last_tick"  # when the last scan-and-report pass ended (status, tests)
Message = tuple[str, Outgoing]  # (role in report_messages, the message)
ON_TIME_S = 60.0  # a red report sent within this of its slot is on time; later ones say "late"


class Reporter:
    def __init__(
        self,
        service: Service,
        node: Node,
        rooms: Callable[[], list[str]],
        wake_outbox: Callable[[], None],
        stop: asyncio.Event,
        reruns: RerunManager | None = None,
        on_ingested: Callable[[list[str]], Awaitable[object]] | None = None,
    ) -> None:
        self.on_ingested = on_ingested  # e.g. warming new red logs for the pages
        self.service = service
        self.config = service.config
        self.settings = service.config.reports
        self.node = node
        self.rooms = rooms
        self.wake_outbox = wake_outbox
        self.stop = stop
        self.reruns = reruns
        self.reports = service.store.reports
        self.trigger = parse_cron(self.settings.cron, self.settings.timezone)
        self.wake = asyncio.Event()
        # Composing a report reads the untold lapses and recording it marks them told: one report at a
        # time (the scheduler's job and the watch loop's tick run in worker threads), so none is told twice.
        self.telling = threading.Lock()
        self.first_scan_done: float | None = None  # sweeps fully read by then finished while the bot was down

    # --- the watch loop ----------------------------------------------------------------------------

    async def run_forever(self) -> None:
        while not self.stop.is_set():
            # Cleared before the scan, not after: a webhook that arrives mid-tick (its runs possibly
            # missed by this scan) must cause another tick at once, not wait for the next poll.
            self.wake.clear()
            try:
                await self.tick()
            except Exception:  # a broken scan must not stop the bot; the log says why
                log.exception("report tick failed (runs dir %s)", self.config.ccci.runs_dir)
            await wait_for_wake(self.wake, self.stop, timeout=self.settings.poll_s)

    async def tick(self) -> None:
        """Scan, then: post a finished sweep's summary, queue its reruns, tell verdict changes, catch up."""
        busy_before = await asyncio.to_thread(self.node.active)
        scan = await self.service.ingest()
        if scan.ingested:
            log.info("ingested %d new run(s)", len(scan.ingested))
        busy_after = await asyncio.to_thread(self.node.active)
        if self.first_scan_done is None:
            self.first_scan_done = time.time()
        rooms = self.rooms()
        if not rooms:
            return  # not in a report room yet: nothing is lost, the next tick decides again
        in_flight = bool(busy_before or busy_after or scan.in_progress)
        posted = await asyncio.to_thread(self._post_finished_sweep, rooms, in_flight)
        await self._queue_reruns()
        changed = await asyncio.to_thread(self._follow_verdicts, rooms)
        sent = await asyncio.to_thread(self._post_red_report, rooms, time.time())
        if posted or changed or sent:
            self.wake_outbox()
        if scan.ingested and self.on_ingested is not None:
            await self.on_ingested(scan.ingested)  # after posting: warming never delays a summary
        await asyncio.to_thread(self.service.store.meta.set, TICK_KEY, f"{time.time():.6f}")

    # --- sweep summaries ---------------------------------------------------------------------------

    def _post_finished_sweep(self, rooms: list[str], in_flight: bool) -> str | None:
        store = self.service.store
        first_start = store.meta.get(BASELINE_KEY) is None
        states = sweep_states(store)
        known = self.reports.known_sweeps()
        fresh = [s for s in states if s.sweep_id not in known]
        covered = self.reports.covered_runs(r for s in fresh for r in s.run_ids)
        decision = due_summary(
            states,
            known,
            covered,
            now=time.time(),
            quiet_s=self.settings.quiet_s,
            in_flight=in_flight,
            first_start=first_start,
        )
        for state, kind in decision.silence:
            log.info("sweep %s: no summary (%s)", state.sweep_id, kind)
            self.reports.record(sweep_key(state.sweep_id), kind, sweep_id=state.sweep_id, run_ids=state.run_ids)
        if first_start:
            store.meta.set(BASELINE_KEY, str(time.time()))
        if decision.post is None:
            return None
        with self.telling:
            return self._post_sweep(decision.post, rooms)

    def _late(self, state: SweepState) -> bool:
        """Finished while the bot was down: every run of it was already there at the first scan."""
        return self.first_scan_done is not None and state.last_ingested <= self.first_scan_done

    def _auto_rerun_candidates(self, report: SweepReport) -> list[str]:
        return [] if self.reruns is None else auto_rerun_candidates(report, self.settings)

    def _compose(self, sweep_id: str, late: bool, auto_reruns: list[str]) -> SweepReport:
        report = build_sweep_report(self.service.store, self.config, sweep_id, self.service.verdicts, late)
        report.auto_reruns.extend(auto_reruns)
        return report

    def _post_sweep(self, state: SweepState, rooms: list[str]) -> str | None:
        late = self._late(state)
        report = self._compose(state.sweep_id, late, [])
        reruns = self._auto_rerun_candidates(report)
        report.auto_reruns.extend(reruns)
        key = sweep_key(state.sweep_id)
        body = {
            "red": {r.recipe: r.run_id for r in report.red},
            "late": late,
            "auto_reruns": reruns,
        }
        messages = self._summary_messages(report, rooms)
        verdicts = {r.recipe: r.verdict for r in report.red if r.verdict is not None}
        recorded = self.reports.record(
            key,
            ReportKind.SWEEP,
            sweep_id=state.sweep_id,
            late=late,
            run_ids=state.run_ids,
            messages=messages,
            verdicts=verdicts,
            body=body,
            told_lapses=[i for n in report.lapses for i in n.lapse_ids],
        )
        if not recorded:
            return None
        log.info(
            "sweep %s summary queued for %d room(s)%s: %d red, newly red %s",
            state.sweep_id,
            len(rooms),
            " (late)" if late else "",
            len(report.red),
            [r.recipe for r in report.of(Change.NEWLY_RED)],
        )
        return key

    def _summary_messages(self, report: SweepReport, rooms: list[str]) -> list[tuple[str, Outgoing]]:
        """One message, or a headline with the details in its thread when many recipes are red."""
        head = render.headline(report)
        body = render.details(report, self.settings.flip_window)
        threaded = len(report.red) > self.settings.thread_over
        both = render.whole(head, body)
        out: list[tuple[str, Outgoing]] = []
        for room in rooms:
            if not threaded:
                content = notice(both.text, both.html, more_url=self._more())
                out.append(("summary", Outgoing(room, "m.room.message", content)))
                continue
            # the details go in the headline's thread; its event id is filled in when sending
            root = new_txn_id()
            out.append(("headline", Outgoing(room, "m.room.message", notice(head.text, head.html), root)))
            reply = thread_reply(ref(root), body.text, body.html)
            out.append(("details", Outgoing(room, "m.room.message", reply)))
        return out

    def _more(self) -> str | None:
        return self.config.web.public_url

    async def _queue_reruns(self) -> None:
        if self.reruns is None:
            return
        latest = await asyncio.to_thread(self.reports.latest_sweep_report)
        if latest is None or latest.reruns_queued:
            return
        queued: list[str] = []
        for recipe in latest.body.get("auto_reruns", []):
            run_id = latest.body.get("red", {}).get(recipe)
            row = await asyncio.to_thread(self.service.store.runs.get, run_id) if run_id else None
            try:
                await self.reruns.request(
                    recipe, row.version if row else None, 1, f"ccci-bot (automatic, after {latest.sweep_id})"
                )
                queued.append(recipe)
            except (ValueError, UnknownNameError) as exc:  # request() checks the name: it came from a run dir
                log.warning("automatic rerun of %s not queued: %s", escape_name(str(recipe)[:80]), exc)
        await asyncio.to_thread(self.reports.set_reruns_queued, latest.key, queued)

    # --- verdict news ------------------------------------------------------------------------------

    def _follow_verdicts(self, rooms: list[str]) -> bool:
        """Tell the latest summary's room once when a red recipe's verdict changes (a rerun settled it)."""
        latest = self.reports.latest_sweep_report()
        if latest is None:
            return False
        announced = self.reports.announced(latest.key)
        current: dict[str, Verdict] = {}
        changes: list[render.VerdictChange] = []
        for recipe, run_id in sorted(latest.body.get("red", {}).items()):
            found = self.service.verdicts.for_run(recipe, run_id)
            if found is None:
                continue
            verdict = found[0]
            before = announced.get(recipe)
            if not verdict_moved(before, verdict):
                continue
            current[recipe] = verdict
            changes.append(render.VerdictChange(recipe, before, verdict))
        if not changes:
            return False
        report = self._compose(latest.sweep_id, bool(latest.body.get("late")), latest.body.get("auto_reruns", []))
        news = render.verdict_changes(latest.sweep_id, changes)
        body = render.details(report, self.settings.flip_window)
        both = render.whole(render.headline(report), body)
        messages: list[Outgoing] = []
        sent = self.reports.messages(latest.key)
        for room in rooms:
            threaded = (room, "headline") in sent
            target = sent.get((room, "details" if threaded else "summary"))
            root = sent.get((room, "headline" if threaded else "summary"))
            if target is None or root is None:
                continue  # a room added after the summary was posted
            if threaded:
                messages.append(Outgoing(room, "m.room.message", edit(ref(target), body.text, body.html)))
            else:
                messages.append(Outgoing(room, "m.room.message", edit(ref(target), both.text, both.html, self._more())))
            messages.append(Outgoing(room, "m.room.message", thread_reply(ref(root), news.text, news.html)))
        announced_now = self.reports.announce(latest.key, current, messages)
        if announced_now:
            log.info("verdict update for %s: %s", latest.sweep_id, "; ".join(news.text.splitlines()[1:]))
        return announced_now

    # --- the scheduled red report --------------------------------------------------------------------

    async def scheduled(self) -> None:
        """The APScheduler job: post the report of the slot that just fired (once, whoever is first)."""
        rooms = self.rooms()
        if not rooms:
            log.warning("red report due but no report room is joined yet; it is sent once one is")
            return
        if await asyncio.to_thread(self._post_red_report, rooms, time.time()):
            self.wake_outbox()

    def _post_red_report(self, rooms: list[str], now: float) -> bool:
        with self.telling:
            return self._post_red_report_now(rooms, now)

    def _post_red_report_now(self, rooms: list[str], now: float) -> bool:
        last = self.reports.last_slot()
        if last is None:  # a new bot: slots before today are not owed
            self.reports.record(slot_key(now), ReportKind.RED, slot=now)
            return False
        slot_dt = latest_slot(self.trigger, datetime.fromtimestamp(last, UTC), datetime.fromtimestamp(now, UTC))
        if slot_dt is None:
            return False
        slot = slot_dt.timestamp()
        late = now - slot > ON_TIME_S
        if now - slot > self.settings.misfire_grace_s:
            log.warning("red report of %s missed by more than reports.misfire_grace_s; skipped", slot_dt)
            self.reports.record(slot_key(slot), ReportKind.RED, slot=slot, late=True, body={"skipped": True})
            return False
        report = build_red_report(self.service.store, self.config, slot, late, self.service.verdicts)
        digest = red_digest(report)
        previous = self.reports.last_red_report()
        same = previous is not None and not report.lapses and previous[1].get("digest") == digest
        messages = self._red_messages(report, rooms, previous[0] if previous is not None and same else None)
        body = {"red": [r.recipe for r in report.rows], "digest": digest, "unchanged": same}
        recorded = self.reports.record(
            slot_key(slot),
            ReportKind.RED,
            slot=slot,
            late=late,
            messages=messages,
            body=body,
            told_lapses=[i for n in report.lapses for i in n.lapse_ids],
        )
        if recorded:
            log.info("red report for %s queued%s: %d red", slot_dt, " (late)" if late else "", len(report.rows))
        return recorded

    def _red_messages(self, report: RedReport, rooms: list[str], unchanged_since: float | None) -> list[Message]:
        """The whole report in one message; when nothing changed since the previous one, one line with the
        whole report in its thread (its event id is filled in when sending)."""
        shown = render.red_report(report)
        out: list[Message] = []
        for room in rooms:
            if unchanged_since is None:
                content = notice(shown.text, shown.html, more_url=self._more())
                out.append(("report", Outgoing(room, "m.room.message", content)))
                continue
            line = render.no_change(report, self._day(unchanged_since, report.slot))
            root = new_txn_id()
            out.append(("report", Outgoing(room, "m.room.message", notice(line.text, line.html), root)))
            out.append(("details", Outgoing(room, "m.room.message", thread_reply(ref(root), shown.text, shown.html))))
        return out

    def _day(self, before: float, now: float) -> str:
        """The previous report's day as people say it: "Monday" within the week, else its date."""
        from zoneinfo import ZoneInfo  # here, like the config's own check: the tz database only when needed

        zone = ZoneInfo(str(self.settings.timezone))
        then = datetime.fromtimestamp(before, zone)
        if datetime.fromtimestamp(now, zone) - then < timedelta(days=6):
            return then.strftime("%A")
        return then.strftime("%Y-%m-%d")
