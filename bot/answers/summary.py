"""The latest sweep as one row per recipe (the `summary` answer)."""

from __future__ import annotations

import time

from bot.answers.suggest import UnknownNameError, closest
from bot.answers.why import VerdictSource
from bot.config import Config
from bot.links import link
from bot.memory.recall import effective, standings
from bot.model.answers import SummaryAnswer, SummaryRow
from bot.model.records import RunRow, RunStatus, Verdict
from bot.store import Store
from bot.verdicts.clusters import cluster


def _verdict(store: Store, verdicts: VerdictSource | None, row: RunRow) -> Verdict | None:
    if row.status is not RunStatus.RED:
        return None
    if verdicts is not None:
        found = verdicts.for_run(row.recipe, row.run_id)
        return found[0] if found else None
    stored = store.verdicts.get(row.run_id)
    return stored.verdict if stored else None


def summary(
    store: Store, config: Config, sweep_id: str | None = None, verdicts: VerdictSource | None = None
) -> SummaryAnswer:
    """Summarise ``sweep_id`` (default: the latest sweep); a recipe run twice shows its last run."""
    sid = sweep_id or store.sweeps.latest_id()
    if sid is None:
        return SummaryAnswer(None, None, None, [])
    runs = store.sweeps.runs(sid)
    if not runs:
        raise UnknownNameError("sweep", sid, closest(sid, store.sweeps.ids()))
    latest: dict[str, RunRow] = {}
    for r in runs:
        if r.recipe not in latest or (r.finished or 0) >= (latest[r.recipe].finished or 0):
            latest[r.recipe] = r
    known = standings(store, latest.values(), time.time())
    rows = []
    for r in sorted(latest.values(), key=lambda r: r.recipe):
        st = known[r.recipe]
        rows.append(
            SummaryRow(
                recipe=r.recipe,
                version=r.version,
                run_id=r.run_id,
                status=r.status,
                unverified=r.unverified,
                failures=store.results.failures(r.run_id) if r.status is RunStatus.RED else [],
                verdict=effective(_verdict(store, verdicts, r), st) if r.status is RunStatus.RED else None,
                log_url=link(config.link_base, r.run_id, config.ccci.log_name),
                state=st.state if not r.unverified else None,
                known_issues=list(st.current_issues),
                muted=st.mute,
            )
        )
    starts = [r.started for r in runs if r.started is not None]
    ends = [r.finished for r in runs if r.finished is not None]
    shapes = [(row.recipe, f.message) for row in rows for f in row.failures]
    return SummaryAnswer(sid, min(starts, default=None), max(ends, default=None), rows, cluster(shapes))
