"""The operators' changes (link, unlink, verdict, mute, unmute) and the `known` list, on the store.

Link, verdict and mute are recorded against the recipe's **current** red failure (its status run's
fingerprint): a recipe that is green now, or was never seen, has nothing to record against. Values
arrive checked by the commands' argument types (:mod:`commands.args`); here they are masked before
they are stored, so a secret pasted into a note never reaches the store.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.errors import BadInput
from bot.masking import Masker
from bot.memory.recall import all_standings, current_fingerprint
from bot.model.answers import KnowledgeChanged, KnownAnswer, KnownIssueRow, MutedRow
from bot.model.knowledge import AuditAction
from bot.model.records import Category, RunRow, RunStatus
from bot.store import Store
from bot.store.status_run import status_run

WEEK_S = 7 * 86400
WEEKS_SHOWN = 12  # `known`'s hits per week: the last twelve weeks, enough to tell a trend from a blip


class Refused(BadInput, ValueError):
    """A change that cannot be made as asked; the message says why, in a few words."""


def _current_red(store: Store, recipe: str, what: str) -> RunRow:
    run = status_run(store.runs, recipe)  # the caller has checked that the recipe is known
    if run is None:
        raise Refused(f"{recipe} has only PR runs; {what} needs a red released-version run")
    if run.status is not RunStatus.RED:
        raise Refused(f"{recipe} is {run.status.value} now (run {run.run_id}); {what} ties a current red failure")
    return run


def link(store: Store, masker: Masker, recipe: str, url: str, note: str, by: str, now: float) -> KnowledgeChanged:
    run = _current_red(store, recipe, "a link")
    fp = current_fingerprint(store, run)
    done = store.knowledge.link(recipe, fp, url, masker.mask(note), by, run.run_id, now)
    return KnowledgeChanged(AuditAction.LINK, recipe, by, fp.shape, done.url, done.note)


def unlink(store: Store, recipe: str, url: str | None, by: str, now: float) -> KnowledgeChanged:
    removed = store.knowledge.unlink(recipe, url, by, now)
    if not removed:
        which = f" to {url}" if url else ""
        raise Refused(f"{recipe} has no link{which}; `known` lists the links")
    return KnowledgeChanged(AuditAction.UNLINK, recipe, by, removed=[r.url for r in removed])


def verdict(
    store: Store, masker: Masker, recipe: str, category: Category, reason: str, by: str, now: float
) -> KnowledgeChanged:
    run = _current_red(store, recipe, "a verdict by hand")
    fp = current_fingerprint(store, run)
    before = store.knowledge.of(recipe).verdict_for(fp.key)
    done = store.knowledge.set_verdict(recipe, fp, category, masker.mask(reason), by, run.run_id, now)
    replaced = before.category.value if before is not None else None
    return KnowledgeChanged(
        AuditAction.VERDICT, recipe, by, fp.shape, note=done.reason, category=category.value, replaced=replaced
    )


def mute(store: Store, masker: Masker, recipe: str, until: float, reason: str, by: str, now: float) -> KnowledgeChanged:
    run = _current_red(store, recipe, "a mute")
    fp = current_fingerprint(store, run)
    done = store.knowledge.mute(recipe, fp, until, masker.mask(reason), by, run.run_id, now)
    return KnowledgeChanged(AuditAction.MUTE, recipe, by, fp.shape, note=done.reason, until=done.until)


def unmute(store: Store, recipe: str, by: str, now: float) -> KnowledgeChanged:
    gone = store.knowledge.unmute(recipe, by, now)
    if gone is None:
        raise Refused(f"{recipe} is not muted")
    return KnowledgeChanged(AuditAction.UNMUTE, recipe, by, gone.shape, note=gone.reason, until=gone.until)


def known(store: Store, now: float) -> KnownAnswer:
    """Every issue URL with its recipes, hits and whether it still fails; every mute with its expiry."""
    standings = all_standings(store, now)
    everything = store.knowledge.everything()
    by_url: dict[str, list[tuple[str, int, float | None, float | None, bool, str, str, float]]] = {}
    for recipe, knowledge in everything.items():
        current = standings.get(recipe)
        for issue in current.known_issues if current is not None else ():
            by_url.setdefault(issue.url, []).append(
                (
                    recipe,
                    issue.hits,
                    issue.first_seen,
                    issue.last_seen,
                    issue.matches_current,
                    issue.note,
                    issue.by,
                    issue.since,
                )
            )
        if current is None:  # a recipe whose runs are all gone keeps its links, unmatched
            for lk in knowledge.links:
                by_url.setdefault(lk.url, []).append((recipe, 0, None, None, False, lk.note, lk.by, lk.at))
    pairs: dict[str, set[tuple[str, str]]] = {}
    for lk in (lk for knowledge in everything.values() for lk in knowledge.links):
        pairs.setdefault(lk.url, set()).add((lk.recipe, lk.fingerprint))
    since = now - WEEKS_SHOWN * WEEK_S
    times = store.knowledge.hit_times({p for ps in pairs.values() for p in ps}, since)
    issues = []
    for url, rows in by_url.items():
        firsts = [r[2] for r in rows if r[2] is not None]
        lasts = [r[3] for r in rows if r[3] is not None]
        newest = max(rows, key=lambda r: r[7])
        issues.append(
            KnownIssueRow(
                url=url,
                note=newest[5],
                recipes=sorted({r[0] for r in rows}),
                hits=sum(r[1] for r in rows),
                first_seen=min(firsts, default=None),
                last_seen=max(lasts, default=None),
                still_failing=any(r[4] for r in rows),
                by=newest[6],
                since=min(r[7] for r in rows),
                weekly=weekly((t for p in pairs.get(url, ()) for t in times.get(p, ())), now),
            )
        )
    issues.sort(key=lambda i: (not i.still_failing, -(i.last_seen or 0), i.url))
    muted = []
    for recipe, knowledge in everything.items():
        m = knowledge.mute
        if m is None or not m.active(now):
            continue
        current = standings.get(recipe)
        applies = current is not None and current.mute is not None
        muted.append(MutedRow(recipe, m.until, m.reason, m.by, applies))
    muted.sort(key=lambda m: (m.until, m.recipe))
    return KnownAnswer(issues, muted)


def weekly(times: Iterable[float], now: float) -> tuple[int, ...]:
    """Counts per week over the last :data:`WEEKS_SHOWN` weeks, oldest first; the last week ends ``now``."""
    counts = [0] * WEEKS_SHOWN
    for t in times:
        back = int((now - t) // WEEK_S)
        if 0 <= back < WEEKS_SHOWN:
            counts[WEEKS_SHOWN - 1 - back] += 1
    return tuple(counts)
