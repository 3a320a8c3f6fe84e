"""Compact plain text for terminals (and the plain-text body of chat messages)."""

from __future__ import annotations

import re
import textwrap

from bot.artifacts.timefmt import short
from bot.model.answers import (
    CalibrationAnswer,
    CancelAnswer,
    HelpAnswer,
    HistoryAnswer,
    HistoryRun,
    IngestReport,
    KnowledgeChanged,
    KnownAnswer,
    NoticeAnswer,
    ReclassifyAnswer,
    RerunQueued,
    StatusAnswer,
    SummaryAnswer,
    WhyAnswer,
)
from bot.model.knowledge import AuditAction, KnownIssue, Mute
from bot.model.records import Category, EvidenceItem, EvidenceKind, NextStep, RunStatus, Verdict, VerdictOrigin
from bot.render.evidence import blocks
from bot.render.strength import rests_on, verdict_label

_MARK = {RunStatus.RED: "✗", RunStatus.GREEN: "✓", RunStatus.UNKNOWN: "?"}


def _status(status: RunStatus, unverified: bool) -> str:
    if status is RunStatus.RED and unverified:
        return "RED (unverified: infra, not evidence against the recipe)"
    return status.value.upper()


def _verdict(v: Verdict | None) -> str:
    if v is None:
        return "not classified yet"
    if v.source is VerdictOrigin.OPERATOR:
        return f"{v.category} (set by hand by {v.by}) — {v.reason}"
    return f"{verdict_label(v)} — {v.reason}"


def issue_line(k: KnownIssue) -> str:
    match = "matches the current failure" if k.matches_current else "does NOT match the current failure"
    seen = f"{k.hits} red run(s), last {short(k.last_seen)}" if k.hits else "no red run seen with it"
    note = f" — {k.note}" if k.note else ""
    return f"{k.url}{note} ({match}; {seen}; linked by {k.by} {short(k.since)})"


def mute_line(m: Mute) -> str:
    reason = f" — {m.reason}" if m.reason else ""
    return f"muted until {short(m.until)} by {m.by}{reason}"


def first_sentence(reason: str, width: int = 200) -> str:
    """The verdict's reason up to its first clause break (``; `` or a sentence's end), cut to ``width``."""
    cut = re.split(r"; |\. (?=[A-Z])", reason, maxsplit=1)[0].rstrip(".")
    return textwrap.shorten(cut, width, placeholder=" …")


CLI_COMMAND = "ccci-bot"
MORE_RERUNS = 3


def settle_command(v: Verdict | None, recipe: str, command: str | None) -> str | None:
    """The command that would settle an unsure verdict, in the caller's syntax (``!ccci`` in chat,
    ``ccci-bot`` on the CLI); None for pages and JSON, and when nothing is to be run."""
    if v is None or v.settle is None or not v.settle.is_rerun or command is None:
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
    if a.rules_verdict is not None:
        lines.append(f"  the rules say: {_verdict(a.rules_verdict)}")
    for d in a.disagreement:
        lines.append(f"  ! evidence disagrees with the verdict by hand: {d}")
    for k in a.known_issues:
        lines.append(f"  issue: {issue_line(k)}")
    if a.muted is not None:
        lines.append(f"  {mute_line(a.muted)}")
    for gone in a.lapsed:
        lines.append(f"  no longer applies: {gone}")
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
    lines += repo_lines(a)
    return "\n".join(lines)


def repo_lines(a: WhyAnswer) -> list[str]:
    """The full answer's lines about the recipe's repository and cc-ci's commits (hashes even without a URL)."""
    r = a.repo
    lines = []
    if r.tested or r.repository:
        lines.append(f"recipe: {r.tested or r.repository}")
    if r.compare_from and r.compare_to and r.compare_from != r.compare_to:
        span = f"from the last green {r.compare_from} to the first red {r.compare_to}"
        lines.append(f"changes {span}: {r.compare or '-'}")
    for c in r.ccci_commits:
        lines.append(f"cc-ci's last change to {c.path} ({c.test}): {c.url or c.commit}")
    return lines


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
    """(label, url) of what the reader opens next: the run page, the log at the failure, the JUnit file, then
    the recipe at the tag tested, the changes into the red streak and cc-ci's last commit of the failing test."""
    found = [("run", a.run_url)]
    log = log_item(a)
    found.append(("log", log.url if log else None))
    junit = next((e.url for e in a.evidence if e.kind is EvidenceKind.FAILURE and e.url), None)
    found.append(("junit", junit))
    return [(label, url) for label, url in [*found, *repo_links(a, commits=1)] if url]


def repo_links(a: WhyAnswer, commits: int | None = None) -> list[tuple[str, str]]:
    """(label, url) of what lies outside the bot: the recipe at the tag tested (else its repository), the
    changes from the last green version to the first red one, cc-ci's last commit of each failing overlay test."""
    r = a.repo
    found = [("tag" if r.tested else "repo", r.tested or r.repository)]
    found.append((f"changes {r.compare_from}...{r.compare_to}", r.compare))
    found += [(f"cc-ci commit {c.commit[:10]}", c.url) for c in r.ccci_commits if c.url][:commits]
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
    said = rests_on(v)
    return f"{v.category}, {said}: {first_sentence(v.reason)}" if said else f"{v.category}: {first_sentence(v.reason)}"


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
    if c["red"] + c["unverified"]:
        lines.append(f"  {red_states(c)}")
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
                row += f"  [{verdict_label(r.verdict)}]"
            if r.known_issues:
                row += f"  issue: {r.known_issues[0].url}"
            if r.muted is not None:
                row += f"  muted until {short(r.muted.until)}"
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
        verdict = f"  [{verdict_label(r.verdict)}]" if r.verdict else ""
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


def red_states(counts: dict[str, int]) -> str:
    """The classification rate: ``6 red: 2 need a look, 3 known, 1 muted``."""
    reds = counts["need_look"] + counts["known"] + counts["muted"]
    return f"{reds} red: {counts['need_look']} need a look, {counts['known']} known, {counts['muted']} muted"


def knowledge_changed_text(k: KnowledgeChanged) -> str:
    failure = f" ({k.shape})" if k.shape else ""
    note = f" — {k.note}" if k.note else ""
    if k.action is AuditAction.LINK:
        return (
            f"Linked {k.recipe}'s current failure{failure} to {k.url}{note}. "
            "Later reds that fail the same way keep the link."
        )
    if k.action is AuditAction.UNLINK:
        return f"Unlinked {k.recipe}: {', '.join(k.removed)}."
    if k.action is AuditAction.VERDICT:
        was = f" (was {k.replaced} by hand)" if k.replaced and k.replaced != k.category else ""
        return (
            f"Verdict for {k.recipe} set by hand: {k.category}{note}{was}. "
            f"It wins over the rules while {k.recipe} fails this way{failure}."
        )
    if k.action is AuditAction.MUTE:
        return f"Muted {k.recipe} until {short(k.until)}{note}. The mute lapses early if it fails differently."
    return f"Unmuted {k.recipe} (was muted until {short(k.until)})."


def known_text(a: KnownAnswer) -> str:
    if not a.issues and not a.muted:
        return "No known issues and no mutes yet (`link`, `verdict` and `mute` record them)."
    lines = [f"Known issues ({len(a.issues)}):" if a.issues else "No known issues."]
    for i in a.issues:
        state = "still failing" if i.still_failing else "not failing that way now"
        seen = f"{i.hits} red run(s), {short(i.first_seen)} → {short(i.last_seen)}" if i.hits else "no red run seen"
        lines.append(f"  {i.url}  [{state}]  {', '.join(i.recipes)}; {seen}")
        if i.note:
            lines.append(f"      {i.note}")
    if a.muted:
        lines.append(f"Muted ({len(a.muted)}):")
        for m in a.muted:
            lapsed = "" if m.applies else " (lapsed: it fails differently or is green now)"
            reason = f" — {m.reason}" if m.reason else ""
            lines.append(f"  {m.recipe} until {short(m.until)} by {m.by}{reason}{lapsed}")
    return "\n".join(lines)


def calibration_text(a: CalibrationAnswer) -> str:
    if a.n == 0 or a.accuracy is None or a.brier is None:
        extra = f" ({a.without_rules} of them on runs the rules never decided)" if a.without_rules else ""
        return (
            "Nothing to compare yet: no verdict given by hand on a run the rules decided"
            f"{extra}. `verdict <recipe> <category>` gives one."
        )
    right = round(a.accuracy * a.n)
    lines = [
        f"The rules agree with the operators on {right} of {a.n} verdict(s) given by hand ({a.accuracy:.0%});"
        f" Brier score {a.brier:.3f} (0 is perfect, 0.25 a coin toss)."
    ]
    for s in a.by_source:
        lines.append(f"  {s.rule}: {round(s.accuracy * s.n)} of {s.n} right, mean confidence {s.mean_confidence:.2f}")
    if a.without_rules:
        lines.append(f"  ({a.without_rules} hand verdict(s) on runs the rules never decided, not compared)")
    return "\n".join(lines)
