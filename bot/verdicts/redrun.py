"""The red run a verdict is decided for: its facts and what the rules read off them, worked out once
(isolation reruns that agree or not, a canonical written after the red, signatures ranked, the sweeps it
repeated in), and the neutral words that say what would settle an unsure verdict."""

from __future__ import annotations

from dataclasses import dataclass

from bot.artifacts.timefmt import short
from bot.model.records import (
    Category,
    EvidenceItem,
    EvidenceKind,
    NextStep,
    RunStatus,
)
from bot.probes.records import Outcome
from bot.verdicts import confidence as c
from bot.verdicts.cite import canonical_item, fmt_tests, rerun_item
from bot.verdicts.records import (
    Facts,
    RerunFact,
    SignatureHit,
    SweepRepeat,
)

SETTLE_BY_RERUN = "an isolation rerun would tell a flake from a deterministic failure"
SETTLE_BY_MORE_RERUNS = "more isolation reruns would tell a flake from a deterministic failure"
SETTLE_BY_A_LOOK = (
    "no signature, stale-test finding or peer difference names its cause: reading the failure against the test "
    "and the recipe's changes since it last passed would settle it"
)


@dataclass(frozen=True)
class RedRun:
    """The red run being decided: its facts and what the rules read off them, worked out once."""

    f: Facts
    isolated: list[RerunFact]  # isolation reruns of the version that say something (verified, finished)
    greens: list[RerunFact]
    same: list[RerunFact]  # red with a failing test the run itself failed
    elsewhere: list[RerunFact]  # red, but only on other tests
    canon_after: bool  # a canonical of the same version written after the red

    @classmethod
    def of(cls, f: Facts) -> RedRun:
        iso = [r for r in f.reruns if r.isolated and not r.unverified and r.status is not RunStatus.UNKNOWN]
        canon_after = (
            f.canonical is not None
            and f.canonical.version == f.target.version
            and f.canonical.ts is not None
            and f.target.finished is not None
            and f.canonical.ts > f.target.finished
        )
        return cls(
            f,
            iso,
            greens=[r for r in iso if r.status is RunStatus.GREEN],
            same=[r for r in iso if r.status is RunStatus.RED and r.failing & f.failing],
            elsewhere=[r for r in iso if r.status is RunStatus.RED and r.failing and not r.failing & f.failing],
            canon_after=canon_after,
        )

    @property
    def tests(self) -> str:
        return fmt_tests(self.f.failures)

    @property
    def version(self) -> str:
        return self.f.target.version or "?"

    @property
    def rerun_items(self) -> list[EvidenceItem]:
        return [rerun_item(r, self.f.layout) for r in self.isolated]

    @property
    def canon_items(self) -> list[EvidenceItem]:
        return [canonical_item(self.f)] if self.canon_after else []

    @property
    def unsettled(self) -> NextStep:
        """Advise a rerun only when none exists: with reruns, only more of them can help."""
        return NextStep.MORE_RERUNS if self.isolated else NextStep.ISOLATION_RERUN

    @property
    def settle_text(self) -> str:
        return SETTLE_BY_MORE_RERUNS if self.isolated else SETTLE_BY_RERUN

    @property
    def green_parts(self) -> list[str]:
        """What says the version passed: green isolation reruns, a canonical written after the red."""
        parts = []
        if self.greens:
            parts.append(f"green in {len(self.greens)} of {len(self.isolated)} isolation rerun(s) of {self.version}")
        if self.canon_after and self.f.canonical is not None:
            parts.append(f"a canonical for {self.version} was written after it ({short(self.f.canonical.ts)})")
        return parts

    @property
    def also(self) -> str:
        if not self.elsewhere:
            return ""
        seen = sorted({f"{t}/{n}" for r in self.elsewhere for t, n in r.failing})[:3]
        return f"; {len(self.elsewhere)} isolation rerun(s) failed elsewhere ({', '.join(seen)})"

    @property
    def deterministic(self) -> bool:
        return bool(self.same)

    @property
    def partly(self) -> bool:  # reproduced by some isolation reruns, while others failed elsewhere
        return bool(self.same) and bool(self.elsewhere)

    @property
    def det_confidence(self) -> float:
        if self.partly:
            return c.PARTLY_REPRODUCED
        return c.DETERMINISTIC_ONCE if len(self.same) == 1 else c.DETERMINISTIC_REPEATED

    @property
    def det_reason(self) -> str:
        return (
            f"red again with the same failing test ({self.tests}) in {len(self.same)} of {len(self.isolated)} "
            f"isolation rerun(s) of {self.version}{self.also}"
        )

    @property
    def contradicted(self) -> frozenset[str]:
        """Signatures a probe proved wrong: the registry has the image they say is gone."""
        return frozenset(s for p in self.f.probes if p.finding.outcome is Outcome.PRESENT for s in p.signatures)

    @property
    def ranked(self) -> list[SignatureHit]:
        """Signature hits, best first: failure-text hits outrank log hits, then by weight; none a probe contradicted."""
        return sorted(
            (s for s in self.f.signatures if s.signature not in self.contradicted),
            key=lambda s: (s.where is EvidenceKind.FAILURE, s.weight),
            reverse=True,
        )

    @property
    def labels(self) -> str:
        return f"; {self.f.peer_labels[0].excerpt}" if self.f.peer_labels else ""

    @property
    def label_bonus(self) -> float:
        return c.PEER_LABELS_BONUS if self.f.peer_labels else 0.0

    @property
    def fitting(self) -> list[SignatureHit]:
        """Signature hits that can name a deterministic failure's cause (recipe or upstream), best first."""
        return [s for s in self.ranked if s.category in (Category.RECIPE_DEFECT, Category.UPSTREAM_DEFECT)]

    @property
    def peer_hint(self) -> str:
        """A passing peer, quoted when no compose difference with it was found (that one is quoted instead)."""
        return f"; {self.f.peers[0].excerpt}" if self.f.peers and not self.f.peer_labels else ""

    @property
    def repeat(self) -> SweepRepeat | None:
        return self.f.repeated

    @property
    def repeat_reason(self) -> str:
        rep = self.f.repeated
        assert rep is not None
        versions = f"of {rep.versions[0]}" if len(rep.versions) == 1 else f"across {', '.join(rep.versions)}"
        return f"red the same way in the last {rep.sweeps} sweeps {versions} ({self.tests}: {rep.failure})"

    @property
    def repeat_confidence(self) -> float:
        rep = self.f.repeated
        assert rep is not None
        return c.REPEATED_MORE if rep.sweeps >= 3 else c.REPEATED_TWICE

    @property
    def repeat_items(self) -> list[EvidenceItem]:
        rep = self.f.repeated
        assert rep is not None
        return [
            EvidenceItem(
                EvidenceKind.REPEATED,
                run_id,
                self.f.layout.results,
                None,
                f"sweep run {run_id}: red the same way ({self.tests}: {rep.failure})",
            )
            for run_id in rep.run_ids[1:]
        ]
