"""Prometheus metrics for ``GET /metrics``: event counters, and gauges read from the store at scrape time.

Everything lives in the bot's own :class:`CollectorRegistry`, never the process-global one, so tests and
two bots in one process never share or collide on a metric. Counters count what happened since this
process started (Prometheus' ``rate()`` handles restarts); the gauges are computed from SQLite on each
scrape, so they are right after a restart without any state of their own.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from collections.abc import Callable, Iterable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.artifacts.timefmt import parse_time
from bot.memory.recall import standings
from bot.model.knowledge import RedState
from bot.model.records import Category, RunStatus
from bot.model.reruns import RerunResult
from bot.store import Store
from bot.store.status_run import status_runs

# Command names come from chat: past this many distinct ones, new names are counted as "other", so a
# room typing random commands cannot grow the label set (and Prometheus' memory) without bound.
MAX_COMMAND_LABELS = 64
OTHER = "other"


class StoreCollector(Collector):
    """Gauges read from SQLite on every scrape (blocking: call ``render`` from a worker thread)."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def describe(self) -> Iterable[Metric]:
        """The families without samples, so registering never queries the store."""
        return self._families()

    def collect(self) -> Iterable[Metric]:
        verdicts, reports, runs, lag, reds = self._families()
        current = status_runs(self.store.runs).values()
        red = [run.run_id for run in current if run.status is RunStatus.RED]
        found = collections.Counter(self.store.verdicts.categories(red).values())
        for category in Category:  # every label, even at 0; none outside the enum
            verdicts.add_metric([category.value], found[category])
        verified = [run for run in current if run.status is RunStatus.RED and not run.unverified]
        states = collections.Counter(s.state for s in standings(self.store, verified, self.clock()).values())
        for state in RedState:
            reds.add_metric([state.value], states[state])
        for kind, count in self.store.reports.posted_counts().items():
            reports.add_metric([kind.value], count)
        runs.add_metric([], self.store.runs.count())
        last = parse_time(self.store.meta.get("last_ingest"))
        # Clamped at 0: a clock stepped back must not show a negative lag.
        lag.add_metric([], math.nan if last is None else max(0.0, self.clock() - last))
        return [verdicts, reports, runs, lag, reds]

    @staticmethod
    def _families() -> tuple[
        GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily
    ]:
        return (
            GaugeMetricFamily(
                "ccci_verdicts",
                "Recipes whose current run is red, by the category of its stored verdict (any KB version).",
                labels=["category"],
            ),
            GaugeMetricFamily(
                "ccci_reports_posted",
                "Sweep summaries and red reports that queued messages for the rooms, since the database began.",
                labels=["kind"],
            ),
            GaugeMetricFamily("ccci_runs_known", "cc-ci runs in the store."),
            GaugeMetricFamily(
                "ccci_ingest_lag_seconds", "Seconds since the runs dir was last ingested; NaN before the first."
            ),
            GaugeMetricFamily(
                "ccci_reds",
                "Recipes whose current run is red (verified), by where they stand with the operators:"
                " need_look (no link, hand verdict or mute), known, muted.",
                labels=["state"],
            ),
        )


class Metrics:
    """The bot's metrics: call the counting methods where things happen, serve ``render()``."""

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._commands = Counter(
            "ccci_commands", "Chat commands handled, by command name.", ["command"], registry=self.registry
        )
        self._reruns = Counter(
            "ccci_reruns", "Isolation reruns finished, by outcome.", ["outcome"], registry=self.registry
        )
        self._sync_errors = Counter(
            "ccci_sync_errors", "Failed syncs with the homeserver (each is retried).", registry=self.registry
        )
        self._command_names: set[str] = set()
        self._lock = threading.Lock()
        self.registry.register(StoreCollector(store, clock))

    def command(self, name: str) -> None:
        with self._lock:
            if name not in self._command_names and len(self._command_names) >= MAX_COMMAND_LABELS:
                name = OTHER
            self._command_names.add(name)
        self._commands.labels(command=name).inc()

    def rerun(self, result: RerunResult) -> None:
        """One finished rerun; the label is the enum's value, so the label set is fixed."""
        self._reruns.labels(outcome=result.value).inc()

    def sync_error(self) -> None:
        self._sync_errors.inc()

    def render(self) -> tuple[bytes, str]:
        """The exposition body and its Content-Type; blocks on SQLite (run it in a worker thread)."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
