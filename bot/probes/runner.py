"""The one place probes run: the configured ones, each within its timeout, behind a short cache.

A sweep's report decides every red at once, and fifty reds may name one image: each subject is asked
once per ``probes.cache_s``, whoever asks. A host that did not answer is not asked again for any
subject until then (fifty reds would otherwise wait fifty timeouts), and a probe that got no answer,
or was refused, logs one line when it asked, never one per red that reuses the answer. Safe to share
between the worker threads that gather facts; a probe that raises is a finding, never an error.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from bot.config import ProbesConfig
from bot.probes.records import Clue, Finding, Outcome, Probe, ProbeFact, Subject

log = logging.getLogger(__name__)

MAX_SUBJECTS = 4  # per probe and red run: what one red may cost is bounded by this many timeouts
MAX_CACHED = 2048  # entries; the expired ones go first when it is full


class ProbeRunner:
    """Runs ``probes`` on a red run's clues (see the module's docstring)."""

    def __init__(
        self,
        probes: Sequence[Probe],
        timeout_s: float,
        cache_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.probes = tuple(probes)
        self.timeout_s = timeout_s
        self.cache_s = cache_s
        self.clock = clock
        self._lock = threading.Lock()
        self._answers: dict[tuple[str, str], tuple[float, Finding]] = {}  # (probe, subject) -> (when, finding)
        self._silent: dict[tuple[str, str], tuple[float, Finding]] = {}  # (probe, host) that did not answer
        self.asked = 0  # look-ups made (not served from the cache): for tests and benchmarks

    def run(self, clues: Sequence[Clue]) -> list[ProbeFact]:
        """What each probe finds about the subjects the clues name, with the signatures that named each."""
        facts: list[ProbeFact] = []
        for probe in self.probes:
            named: dict[Subject, set[str]] = {}
            for clue in clues:
                ids = {sid for sid, category in clue.hits if category in probe.categories}
                if ids:
                    for subject in probe.subjects(clue):
                        named.setdefault(subject, set()).update(ids)
            for subject, ids in list(named.items())[:MAX_SUBJECTS]:
                facts.append(ProbeFact(self._finding(probe, subject), frozenset(ids)))
        return facts

    def _finding(self, probe: Probe, subject: Subject) -> Finding:
        key, host = (subject.probe, subject.name), (subject.probe, subject.host)
        now = self.clock()
        with self._lock:
            cached = self._fresh(self._answers, key, now)
            if cached is not None:
                return cached
            silent = self._fresh(self._silent, host, now)
        if silent is not None:
            ago = max(0, round(now - self._silent[host][0]))
            return replace(
                silent,
                subject=subject,
                said=f"{subject.name} could not be checked: {subject.host} did not answer {ago} s ago, "
                f"not asked again for {self.cache_s:g} s",
            )
        found = self._ask(probe, subject)
        with self._lock:
            self.asked += 1
            if len(self._answers) >= MAX_CACHED:
                self._answers = {k: v for k, v in self._answers.items() if now - v[0] < self.cache_s}
            self._answers[key] = (now, found)
            if found.outcome is Outcome.UNREACHABLE:
                self._silent[host] = (now, found)
        if not found.outcome.answered:
            log.warning(
                "%s probe: %s (no verdict changes on it; asked again after %g s)",
                subject.probe,
                found.said,
                self.cache_s,
            )
        return found

    def _fresh(
        self, table: dict[tuple[str, str], tuple[float, Finding]], key: tuple[str, str], now: float
    ) -> Finding | None:
        entry = table.get(key)
        return entry[1] if entry is not None and now - entry[0] < self.cache_s else None

    def _ask(self, probe: Probe, subject: Subject) -> Finding:
        try:
            return probe.check(subject, self.timeout_s)
        except Exception as exc:  # a probe's bug must not cost the verdict: it is a finding like no answer
            log.exception("%s probe failed on %s", subject.probe, subject.name)
            return Finding(subject, Outcome.UNREACHABLE, f"{subject.name} could not be checked: {exc!r}", time.time())


def configured(config: ProbesConfig) -> ProbeRunner | None:
    """The probes the config enables (None: probing is off)."""
    if not config.enabled:
        return None
    from bot.probes.dockerauth import default_path
    from bot.probes.registry import RegistryProbe

    probes: list[Probe] = [RegistryProbe(config.docker_config or default_path(), config.insecure_registries)]
    return ProbeRunner(probes, config.timeout_s, config.cache_s)
