"""Compact plain text for terminals (and the plain-text body of chat messages)."""

from __future__ import annotations

import re
import textwrap

from bot.artifacts.timefmt import short
from bot.model.answers import (
    CancelAnswer,
    HelpAnswer,
    HistoryAnswer,
    HistoryRun,
    IngestReport,
    NoticeAnswer,
    ReclassifyAnswer,
    RerunQueued,
    StatusAnswer,
    SummaryAnswer,
    WhyAnswer,
)
from bot.model.records import Category, EvidenceItem, EvidenceKind, NextStep, RunStatus, Verdict
from bot.render.evidence import blocks

_MARK = {RunStatus.RED: "✗", RunStatus.GREEN: "✓", RunStatus.UNKNOWN: "?"}


def _status(status: RunStatus, unverified: bool) -> str:
    if status is RunStatus.RED and unverified:
        return "RED (unverified: infra, not evidence against the recipe)"
    return status.value.upper()


def strength(v: Verdict) -> str:
    """How sure a verdict is, as every rendering shows it (chat, terminal, pages, reports): the one
    place to change when the strength is said in words."""
    return f"{v.confidence:.0%}"


def _verdict(v: Verdict | None) -> str:
    if v is None:
        return "not classified yet"
    return f"{v.category} ({strength(v)}) — {v.reason}"


def first_sentence(reason: str, width: int = 200) -> str:
    """The verdict's reason up to its first clause break (``; `` or a sentence's end), cut to ``width``."""
    cut = re.split(r"; |\. (?=[A-Z])", reason, maxsplit=1)[0].rstrip(".")
    return textwrap.shorten(cut, width, placeholder=" …")


CLI_COMMAND = "ccci-bot"
MORE_RERUNS = 3


def settle_command(v: Verdict | None, recipe: str, command: str | None) -> str | None:
    """The command that would settle an unsure verdict, in the caller's syntax (``!ccci`` in chat,
    ``ccci-bot`` on the CLI); None for pages and JSON, and when nothing is to be run."""
    if v is None or v.settle is None or command is None:
        return None
    times = f" x{MORE_RERUNS}" if v.settle is NextStep.MORE_RERUNS else ""
    return f"{command} rerun {recipe}{times}"


def why_text(a: WhyAnswer, command: str | None = CLI_COMMAND) -> str:
    if a.run_id is None:
        return f"{a.recipe}: no released-version run yet (only PR runs)."
    lines = [
        f"{a.recipe} {_MARK[a.status]} {_status(a.status, a.unverified)}  {a.version or '?'}  "
        f"run {a.run_id} ({a.kind.value if a.kind else '?'}, finished {short(a.finished)})"
    ]
    if a.red_runs:
        lines.append(f"  red since {short(a.red_since)}, {a.red_runs} run(s) in a row")
    lines.append(f"  verdict: {_verdict(a.verdict)}")
    settle = settle_command(a.verdict, a.recipe, command)
    if settle:
        lines.append(f"  to settle it: `{settle}`")
    if a.failures:
        lines.append("failing:")
        for f in a.failures:
            lines.append(f"  {f.tier}/{f.source} {f.test}")
            lines.append(textwrap.indent(textwrap.shorten(f.message, 300), "      "))
    shown = blocks(a.evidence)
    if shown:
        lines.append("evidence:")
        for b in shown:
            head = " ".join(x for x in (f"[{b.kind}]", b.where, b.url) if x)
            lines.append(f"  {head}")
            lines += [textwrap.indent(x, "      ") for x in b.excerpts]
    if a.reruns:
        outcomes = ", ".join(f"{r.run_id} {r.status.value}{' (isolated)' if r.isolated else ''}" for r in a.reruns)
        lines.append(f"reruns of {a.version}: {outcomes}")
    elif a.status is RunStatus.RED:
        lines.append(f"reruns of {a.version}: none — only an isolation rerun settles flake vs deterministic")
    if a.run_url:
        lines.append(f"run: {a.run_url}")
    return "\n".join(lines)


BRIEF_LINES = 12  # a `why` reply in the room is at most this many lines; the rest goes to its thread
_NEXT = {
    Category.FLAKE: "nothing to do: a flake (it passed alone)",
    Category.INFRA: "nothing to do for the recipe: infra, nothing about it was decided",
    Category.STALE_TEST: "update cc-ci's test: it expects what the recipe no longer has",
    Category.UPSTREAM_DEFECT: "pin a version that exists upstream, or wait for upstream",
    Category.RECIPE_DEFECT: "a look at the recipe",
    Category.UNKNOWN: "a look: the cause is not decided",
}


def next_action(a: WhyAnswer, command: str | None = CLI_COMMAND) -> str:
    """What the reader does next: the command that settles an unsure verdict, else what its category asks."""
    if a.status is not RunStatus.RED:
        return f"nothing to do: {a.recipe} is {a.status.value} in its latest run"
    settle = settle_command(a.verdict, a.recipe, command)
    if settle:
        return f"`{settle}` (an isolation rerun settles it)"
    if a.verdict is None:
        return "wait: not classified yet (the next scan decides)"
    action = _NEXT.get(a.verdict.category, _NEXT[Category.UNKNOWN])
    peers = [e for e in a.evidence if e.kind is EvidenceKind.PEER_LABELS]
    if a.verdict.category is Category.RECIPE_DEFECT and peers:
        action += f": its labels differ from {peers[0].path.split(' ', 1)[0]}'s, which passes (thread)"
    return action


def log_item(a: WhyAnswer) -> EvidenceItem | None:
    """The log line of the first failure (the line the log page opens on), if the log names it."""
    logs = [e for e in a.evidence if e.kind is EvidenceKind.LOG and e.url]
    first = a.failures[0].test if a.failures else None
    return next((e for e in logs if first and first in e.excerpt), logs[0] if logs else None)


def brief_links(a: WhyAnswer) -> list[tuple[str, str]]:
    """(label, url) of what the reader opens next: the run page, the log at the failure, the JUnit file."""
    found = [("run", a.run_url)]
    log = log_item(a)
    found.append(("log", log.url if log else None))
    junit = next((e.url for e in a.evidence if e.kind is EvidenceKind.FAILURE and e.url), None)
    found.append(("junit", junit))
    return [(label, url) for label, url in found if url]


def failing_line(a: WhyAnswer, width: int = 160) -> str | None:
    """The one failing assertion: the first failure's tier/test and the first line of its message."""
    if not a.failures:
        return None
    f = a.failures[0]
    more = f" (+{len(a.failures) - 1} more)" if len(a.failures) > 1 else ""
    message = f.message.strip().splitlines()[0] if f.message.strip() else ""
    return textwrap.shorten(f"{f.tier}/{f.test}{more}: {message}", width, placeholder=" …")


def head_line(a: WhyAnswer) -> str:
    red = f"; red since {short(a.red_since)}, {a.red_runs} run(s) in a row" if a.red_runs else ""
    kind = a.kind.value if a.kind else "?"
    return (
        f"{a.recipe} {_MARK[a.status]} {_status(a.status, a.unverified)}  {a.version or '?'}  "
        f"run {a.run_id} ({kind}, {short(a.finished)}){red}"
    )


def verdict_brief(v: Verdict | None) -> str:
    """The verdict in one sentence, with how sure it is."""
    if v is None:
        return "not classified yet"
    return f"{v.category}, {strength(v)}: {first_sentence(v.reason)}"


def why_brief(a: WhyAnswer, command: str | None = CLI_COMMAND) -> str:
    """The room's answer: at most :data:`BRIEF_LINES` lines (what, how sure, the failure, what next,
    links); the evidence, reruns and history are the full answer's (the reply's thread, the pages)."""
    if a.run_id is None:
        return f"{a.recipe}: no released-version run yet (only PR runs)."
    lines = [head_line(a)]
    if a.status is RunStatus.RED:
        lines.append(f"verdict: {verdict_brief(a.verdict)}")
        failing = failing_line(a)
        if failing:
            lines.append(f"failing: {failing}")
    lines.append(f"next: {next_action(a, command)}")
    links = brief_links(a)
    if links:
        lines.append(" · ".join(f"{label}: {url}" for label, url in links))
    return "\n".join(lines[:BRIEF_LINES])


def summary_text(s: SummaryAnswer) -> str:
    if s.sweep_id is None:
        return "No sweep has been seen yet (run `ccci-bot ingest`)."
    c = s.counts
    lines = [
        f"{s.sweep_id}: {c['total']} recipes — {c['green']} green, {c['red']} red, {c['unverified']} unverified"
        f"  ({short(s.started)} → {short(s.finished)})"
    ]
    width = max((len(r.recipe) for r in s.rows), default=0)
    for r in s.rows:
        row = f"  {_MARK[r.status]} {r.recipe:<{width}}  {r.version or '?':<20} {r.run_id:<12}"
        if r.status is RunStatus.RED:
            if r.failures:
                f = r.failures[0]
                more = f" (+{len(r.failures) - 1})" if len(r.failures) > 1 else ""
                row += f" {f.tier}/{f.test}{more}: {textwrap.shorten(f.message, 80)}"
            elif r.unverified:
                row += " unverified (infra)"
            if r.verdict:
                row += f"  [{r.verdict.category} {r.verdict.confidence:.0%}]"
        lines.append(row.rstrip())
    for cl in s.clusters:
        lines.append(
            f"  {len(cl.recipes)} recipes share: {textwrap.shorten(cl.signature, 100)} ({', '.join(cl.recipes)})"
        )
    return "\n".join(lines)


def reclassify_text(r: ReclassifyAnswer) -> str:
    done = r.verdicts
    lines = [f"knowledge base {r.kb_version}: {r.signatures} signatures; {len(done)} red recipe(s) classified"]
    lines += [f"  ! {p}" for p in r.kb_problems]
    width = max((len(c.recipe) for c in done), default=0)
    lines += [f"  {c.recipe:<{width}}  {_verdict(c.verdict)}" for c in done]
    return "\n".join(lines)


def ingest_text(r: IngestReport) -> str:
    lines = [
        f"scanned {r.scanned} run dirs in {r.seconds:.2f}s: {len(r.ingested)} new or changed, "
        f"{r.unchanged} unchanged, {len(r.in_progress)} still being written; {r.canonicals} canonical records"
    ]
    if r.ingested:
        shown = ", ".join(r.ingested[:20]) + (f", … (+{len(r.ingested) - 20})" if len(r.ingested) > 20 else "")
        lines.append(f"  new: {shown}")
    if r.in_progress:
        lines.append(f"  in progress (retried next scan): {', '.join(r.in_progress)}")
    if r.retired:
        lines.append(f"  retired (run dir gone; kept as history): {', '.join(r.retired)}")
    for p in r.problems[:50]:
        lines.append(f"  ! {p}")
    if len(r.problems) > 50:
        lines.append(f"  ! … and {len(r.problems) - 50} more")
    return "\n".join(lines)


def history_strip(runs: list[HistoryRun]) -> str:
    """One symbol per run, newest right: ✓ green, ✗ red, ! unverified, ? unknown."""
    return "".join("!" if r.unverified else _MARK[r.status] for r in runs)


def history_text(h: HistoryAnswer) -> str:
    lines = [f"{h.recipe}: last {len(h.runs)} run(s), oldest first  {history_strip(h.runs)}"]
    for r in h.runs:
        verdict = f"  [{r.verdict.category} {r.verdict.confidence:.0%}]" if r.verdict else ""
        mark = "!" if r.unverified else _MARK[r.status]
        by = f" (by {r.started_by})" if r.started_by else ""
        lines.append(f"  {mark} {short(r.finished)}  {r.version or '?':<22} {r.run_id:<14} {r.kind.value}{by}{verdict}")
    return "\n".join(lines)


def help_text(h: HelpAnswer) -> str:
    if h.detailed:
        lines = []
        for c in h.commands:
            lines.append(f"{h.prefix} {c.usage}{'' if not c.acts else '  [operators]'}")
            lines.append(f"  {c.help}")
            for a in c.args:
                choices = f" (one of: {', '.join(a.choices)})" if a.choices else ""
                lines.append(f"  {a.name:<12} {a.help}{choices}{' (optional)' if a.optional else ''}")
        return "\n".join(lines)
    lines = [f"ccci-bot commands (prefix {h.prefix}):"]
    width = max(28, min(44, max((len(c.usage) for c in h.commands), default=0)))
    for c in h.commands:
        explained = f"{c.help}{'' if not c.acts else ' [operators]'}"
        if len(c.usage) > width:  # a long usage (the CLI's) gets its own line
            lines.append(f"  {h.prefix} {c.usage}\n  {'':{len(h.prefix)}} {'':<{width}} {explained}")
        else:
            lines.append(f"  {h.prefix} {c.usage:<{width}} {explained}")
    return "\n".join(lines)


def status_text(s: StatusAnswer) -> str:
    if s.live:
        sync = short(s.last_sync) if s.last_sync else "never"
        error = f" (last error: {s.last_sync_error})" if s.last_sync_error else ""
        head = f"ccci-bot {s.version}, up since {short(s.started_at)}; last sync {sync}{error}; "
        rooms = f"rooms: {', '.join(s.rooms) or '-'}; "
    else:
        head, rooms = f"ccci-bot {s.version} (from the store: a running bot's sync state is not visible here); ", ""
    first = (
        f"{head}last ingest {s.last_ingest or 'never'}; {s.runs} runs known; outbox {s.outbox_pending} pending; "
        f"knowledge base {s.kb_version}; {rooms}"
        f"last summary {s.last_summary or 'none yet'}; next red report {short(s.next_report) if s.next_report else '-'}"
        + (f"; {s.e2ee}" if s.e2ee else "")
    )
    return "\n".join([first, *status_lines(s)])


def status_lines(s: StatusAnswer) -> list[str]:
    """The rerun queue and cc-ci's runs in flight, a line each."""
    queue = "; ".join(
        f"{r.recipe} {r.version}{f' x{r.times}' if r.times > 1 else ''} {r.state.value} (asked by {r.requested_by})"
        for r in s.reruns
    )
    return [
        f"reruns: {queue or 'none queued'}",
        f"cc-ci runs in flight: {', '.join(s.in_flight) if s.in_flight else 'none'}",
    ]


def rerun_queued_text(q: RerunQueued) -> str:
    where = "next" if q.position == 1 else f"position {q.position} in the queue"
    if q.folded:
        return f"Already queued: isolation rerun of {q.recipe} {q.version} ({where})."
    many = f" ×{q.times}" if q.times > 1 else ""
    return (
        f"Queued: isolation rerun{many} of {q.recipe} {q.version} ({where}). It starts when the CI node "
        "is idle; progress and the result follow here."
    )


def cancel_text(c: CancelAnswer) -> str:
    parts = []
    if c.cancelled:
        parts.append(f"Cancelled: {', '.join(f'{r.recipe} {r.version}' for r in c.cancelled)}.")
    if c.elsewhere:
        names = ", ".join(f"{r.recipe} {r.version}" for r in c.elsewhere)
        parts.append(f"Still running in the bot (`cancel` in the ops room stops it): {names}.")
    if not parts:
        return f"Nothing to cancel{' for ' + c.recipe if c.recipe else ''}."
    return " ".join(parts)


def notice_text(n: NoticeAnswer) -> str:
    return n.text
