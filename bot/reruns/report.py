"""What an operator reads about a rerun: a one-line status while it runs, the full report at the end.

Both go to chat and to the terminal. Whatever came from a run dir or the runner's output (JUnit file
names, the log tail, failure text) is shown with its control characters escaped
(:mod:`bot.artifacts.controls`), so recipe code cannot forge lines or move a terminal's cursor.
"""

from __future__ import annotations

import asyncio

from bot.artifacts.controls import escape_name, escape_text
from bot.links import link
from bot.model.records import TIERS, RunKind, RunStatus, TestStatus
from bot.model.reruns import Attempt, AttemptOutcome, RerunResult, result_of
from bot.render.strength import verdict_label
from bot.service import Service
from bot.store import Store
from bot.store.reruns import Rerun
from bot.store.status_run import status_run

_TIER_MARK = {
    TestStatus.PASS: "✓",
    TestStatus.SKIP: "–",
    TestStatus.FAIL: "✗",
    TestStatus.ERROR: "✗",
    TestStatus.UNVER: "!",
}


# How an attempt that produced no run is named in the report (the verdict categories' words).
_FAILED_AS = {AttemptOutcome.TIMEOUT: "infra/timeout", AttemptOutcome.CANCELLED: "cancelled"}


def result(store: Store, attempts: list[Attempt]) -> RerunResult:
    """How the rerun ended, from its attempts and the stored status of each run they produced."""
    rows = [store.runs.get(a.run_id) for a in attempts if a.run_id is not None]
    return result_of(attempts, [r.status for r in rows if r is not None])


def tiers_in_order(junit_files: list[str]) -> tuple[list[str], str | None]:
    """The tiers done (JUnit files written), in cc-ci's order (install → upgrade → backup → restore →
    custom; others after, by name), and the tier now running: the first of cc-ci's not done yet."""
    names = {name.split("__", 1)[0] for name in junit_files}
    known = [t for t in TIERS if t in names]
    done = known + sorted(names - set(TIERS))
    last = max((TIERS.index(t) for t in known), default=-1)
    current = TIERS[last + 1] if last + 1 < len(TIERS) else None
    return [escape_name(t) for t in done], current


def elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(max(seconds, 0)), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def progress_line(
    rerun: Rerun,
    n: int,
    junit_files: list[str],
    seconds: float = 0.0,
    live_log: str | None = None,
    ended: bool = False,
) -> str:
    """The rerun's one status line (edited in place): the tier running, those done, how long, who asked,
    and where its log can be followed; once the attempt has ended, how long it ran (its report follows)."""
    done, current = tiers_in_order(junit_files)
    tiers = f" (done: {', '.join(done)})" if done else ""
    if ended:
        state = f"ended after {elapsed(seconds)}{tiers}"
    else:
        state = f"running, {f'now {current}' if current else 'finishing'}{tiers}; {elapsed(seconds)} so far"
    of = f" (run {n} of {rerun.times})" if rerun.times > 1 else ""
    follow = f" — {'log' if ended else 'live log'}: {live_log}" if live_log else ""
    return (
        f"Isolation rerun of {rerun.recipe} {rerun.version}{of}: {state}; asked by {escape_name(rerun.requested_by)}"
        f"{follow}"
    )


async def final_report(service: Service, rerun: Rerun, attempts: list[Attempt]) -> str:
    return await asyncio.to_thread(_report, service, rerun, attempts)


def _report(service: Service, rerun: Rerun, attempts: list[Attempt]) -> str:
    store, config = service.store, service.config
    base = config.link_base
    lines: list[str] = []
    statuses: list[RunStatus] = []
    for attempt in attempts:
        if attempt.run_id is None:
            what = _FAILED_AS.get(attempt.outcome, "infra")
            lines.append(f"  run {attempt.n}: {what} — {escape_name(attempt.detail)} ({attempt.seconds:.0f} s)")
            if attempt.log_tail:
                shown = (f"      {escape_text(line)}" for line in attempt.log_tail.splitlines())
                lines.append("    log tail:\n" + "\n".join(shown))
            continue
        row = store.runs.get(attempt.run_id)
        status = row.status if row else RunStatus.UNKNOWN
        statuses.append(status)
        tiers = " ".join(
            f"{escape_name(t.name)} {_TIER_MARK.get(t.status, '?')}" for t in store.results.tiers(attempt.run_id)
        )
        log_url = link(base, attempt.run_id, config.ccci.log_name)  # a file is a link or nothing: no host path
        lines.append(
            f"  run {attempt.run_id}: {status.value} ({tiers}) in {attempt.seconds:.0f} s"
            + (f" — log {log_url}" if log_url else "")
        )
        for f in store.results.failures(attempt.run_id)[:5]:
            lines.append(
                f"    ✗ {escape_name(f.tier)}/{escape_name(f.test)}: {escape_name(f.message[:200])}"
                f"  {link(base, attempt.run_id, f.junit_file) or ''}"
            )
        for leftover in attempt.leftovers:
            lines.append(f"    leftover after teardown: {escape_name(leftover)}")
    greens = sum(1 for s in statuses if s is RunStatus.GREEN)
    head = f"Isolation rerun of {rerun.recipe} {rerun.version}: {greens} of {len(attempts)} green"
    if len(statuses) < len(attempts):
        head += f" ({len(attempts) - len(statuses)} did not produce a run)"
    out = [head + ".", *lines]
    last = service.store.runs.last_run_of_version(rerun.recipe, RunKind.SWEEP, rerun.version)
    if last is not None:
        failing = ", ".join(f"{f.tier}/{f.test}" for f in store.results.failures(last.run_id)[:3])
        out.append(
            f"Compared with sweep run {last.run_id} of {rerun.version}: {last.status.value}"
            + (f" ({failing})" if failing else "")
            + f" → {greens} of {len(attempts)} green alone."
        )
    target = status_run(service.store.runs, rerun.recipe)
    stored = store.verdicts.get(target.run_id) if target is not None else None
    if stored is not None:
        v = stored.verdict
        out.append(f"Verdict now: {verdict_label(v)} — {v.reason}")
    elif target is not None and target.status is RunStatus.GREEN:
        out.append(f"{rerun.recipe} is green in its latest sweep; no verdict needed.")
    return "\n".join(out)
