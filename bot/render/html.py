"""Matrix HTML (``org.matrix.custom.html``): the subset clients render — b, code, pre, a, br, ul/li,
table, and ``font``/``span`` with ``data-mx-color``. Everything from cc-ci's files is escaped."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import escape
from typing import Any

from bot.artifacts.timefmt import short
from bot.model.answers import (
    CalibrationAnswer,
    CancelAnswer,
    HelpAnswer,
    HistoryAnswer,
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
from bot.model.records import RunStatus, Verdict, VerdictOrigin
from bot.render import text
from bot.render.evidence import Block, blocks
from bot.render.strength import rests_on, strength_words, verdict_label

_CODE = re.compile(r"`([^`]+)`")
RED, GREEN, AMBER, GREY = "#c0392b", "#27ae60", "#d68910", "#7f8c8d"


def colored(value: str, color: str) -> str:
    return f'<font data-mx-color="{color}">{value}</font>'


def status_badge(status: RunStatus, unverified: bool) -> str:
    if unverified:
        return colored("<b>UNVERIFIED</b>", AMBER)
    return {
        RunStatus.RED: colored("<b>RED</b>", RED),
        RunStatus.GREEN: colored("<b>GREEN</b>", GREEN),
        RunStatus.UNKNOWN: colored("<b>UNKNOWN</b>", GREY),
    }[status]


def anchor(label: str, url: str | None) -> str:
    return f'<a href="{escape(url, quote=True)}">{escape(label)}</a>' if url else escape(label)


def _verdict(v: Verdict | None) -> str:
    if v is None:
        return "<i>not classified yet</i>"
    if v.source is VerdictOrigin.OPERATOR:
        return f"<b>{escape(v.category)}</b> (set by hand by {escape(v.by or '?')}) — {escape(v.reason)}"
    color = GREEN if v.confidence >= 0.8 else (AMBER if v.confidence >= 0.5 else GREY)
    words = strength_words(v)
    shown = f" {colored(escape(words), color)}" if words else ""
    return f"<b>{escape(v.category)}</b>{shown} — {escape(v.reason)}"


def _evidence(b: Block) -> str:
    quoted = "".join(f"<pre><code>{escape(x)}</code></pre>" for x in b.excerpts)
    where = anchor(b.where, b.url) if b.where else anchor("link", b.url) if b.url else ""
    return f"<li>[{escape(b.kind)}] {where}{quoted}</li>"


def why_brief_html(a: WhyAnswer, command: str | None = None) -> str:
    """The room's answer (:func:`bot.render.text.why_brief`) in HTML, line for line."""
    if a.run_id is None:
        return f"<b>{escape(a.recipe)}</b>: no released-version run yet (only PR runs)."
    red = f"; red since {short(a.red_since)}, {a.red_runs} run(s) in a row" if a.red_runs else ""
    parts = [
        f"<b>{escape(a.recipe)}</b> {status_badge(a.status, a.unverified)} <code>{escape(a.version or '?')}</code> "
        f"run {anchor(a.run_id, a.run_url)} ({escape(a.kind.value if a.kind else '?')}, {short(a.finished)}){red}"
    ]
    if a.status is RunStatus.RED:
        v = a.verdict
        said = (
            f"<b>{escape(v.category)}</b>{escape(', ' + rests_on(v) if rests_on(v) else '')}: "
            f"{escape(text.first_sentence(v.reason))}"
            if v
            else "<i>not classified yet</i>"
        )
        parts.append(f"<b>Verdict:</b> {said}")
        failing = text.failing_line(a)
        if failing:
            parts.append(f"<b>Failing:</b> <code>{escape(failing)}</code>")
    action = _CODE.sub(r"<code>\1</code>", escape(text.next_action(a, command)))
    parts.append(f"<b>Next:</b> {action}")
    links = text.brief_links(a)
    if links:
        parts.append(" · ".join(anchor(label, url) for label, url in links))
    return "<br>".join(parts)


def why_html(a: WhyAnswer, command: str | None = None) -> str:
    if a.run_id is None:
        return f"<b>{escape(a.recipe)}</b>: no released-version run yet (only PR runs)."
    parts = [
        f"<b>{escape(a.recipe)}</b> {status_badge(a.status, a.unverified)} <code>{escape(a.version or '?')}</code> "
        f"run {anchor(a.run_id, a.run_url)} ({escape(a.kind.value if a.kind else '?')}, {short(a.finished)})"
    ]
    if a.red_runs:
        parts.append(f"<br>red since {short(a.red_since)}, {a.red_runs} run(s) in a row")
    if a.status is RunStatus.RED:
        parts.append(f"<br><b>Verdict:</b> {_verdict(a.verdict)}")
        if a.rules_verdict is not None:
            parts.append(f"<br>The rules say: {_verdict(a.rules_verdict)}")
        for d in a.disagreement:
            parts.append(f"<br>{colored('Evidence disagrees with the verdict by hand:', AMBER)} {escape(d)}")
        for k in a.known_issues:
            parts.append(f"<br><b>Issue:</b> {escape(text.issue_line(k))}")
        if a.muted is not None:
            parts.append(f"<br>{escape(text.mute_line(a.muted))}")
        for gone in a.lapsed:
            parts.append(f"<br>No longer applies: {escape(gone)}")
        settle = text.settle_command(a.verdict, a.recipe, command)
        if settle:
            parts.append(f"<br>To settle it: <code>{escape(settle)}</code>")
    if a.failures:
        items = "".join(
            f"<li><code>{escape(f.tier)}/{escape(f.source)}</code> <b>{escape(f.test)}</b>: "
            f"<code>{escape(f.message[:300])}</code></li>"
            for f in a.failures
        )
        parts.append(f"<br><b>Failing</b><ul>{items}</ul>")
    shown = blocks(a.evidence)
    if shown:
        parts.append(f"<b>Evidence</b><ul>{''.join(_evidence(b) for b in shown)}</ul>")
    if a.reruns:
        outcomes = ", ".join(
            f"{escape(r.run_id)} {status_badge(r.status, False)}{' (isolated)' if r.isolated else ''}" for r in a.reruns
        )
        parts.append(f"Reruns of <code>{escape(a.version or '?')}</code>: {outcomes}")
    elif a.status is RunStatus.RED:
        parts.append(f"No rerun of <code>{escape(a.version or '?')}</code> yet: only an isolation rerun settles it.")
    parts += [f"<br>{line}" for line in repo_lines_html(a)]
    return "".join(parts)


def repo_lines_html(a: WhyAnswer) -> list[str]:
    """:func:`bot.render.text.repo_lines` with links (the thread and the recipe page)."""
    r = a.repo
    lines = []
    if r.tested or r.repository:
        shown = anchor(a.version or a.recipe, r.tested) if r.tested else anchor(a.recipe, r.repository)
        lines.append(f"Recipe: {shown}")
    if r.compare_from and r.compare_to and r.compare_from != r.compare_to:
        span = f"{r.compare_from}...{r.compare_to}"
        lines.append(f"Changes from the last green to the first red: {anchor(span, r.compare)}")
    for c in r.ccci_commits:
        lines.append(
            f"cc-ci's last change to <code>{escape(c.path)}</code> ({escape(c.test)}): {anchor(c.commit[:10], c.url)}"
        )
    return lines


def summary_html(s: SummaryAnswer) -> str:
    if s.sweep_id is None:
        return "No sweep has been seen yet."
    c = s.counts
    head = (
        f"<b>{escape(s.sweep_id)}</b>: {c['total']} recipes — {colored(str(c['green']) + ' green', GREEN)}, "
        f"{colored(str(c['red']) + ' red', RED)}, {colored(str(c['unverified']) + ' unverified', AMBER)}"
    )
    rows = []
    for r in s.rows:
        failing = ""
        if r.failures:
            f = r.failures[0]
            more = f" (+{len(r.failures) - 1})" if len(r.failures) > 1 else ""
            failing = f"<code>{escape(f.tier)}/{escape(f.test)}</code>{more}"
        verdict = escape(verdict_label(r.verdict)) if r.verdict else ""
        rows.append(
            f"<tr><td>{status_badge(r.status, r.unverified)}</td><td><b>{escape(r.recipe)}</b></td>"
            f"<td><code>{escape(r.version or '?')}</code></td><td>{failing}</td><td>{verdict}</td>"
            f"<td>{anchor('log', r.log_url) if r.status is RunStatus.RED else ''}</td></tr>"
        )
    table = (
        "<table><thead><tr><th></th><th>recipe</th><th>version</th><th>failing</th><th>verdict</th><th></th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )
    clusters = "".join(
        f"<li>{len(cl.recipes)} recipes share: <code>{escape(cl.signature)}</code>"
        f" ({escape(', '.join(cl.recipes))})</li>"
        for cl in s.clusters
    )
    return head + table + (f"<ul>{clusters}</ul>" if clusters else "")


def knowledge_changed_html(k: KnowledgeChanged) -> str:
    return escape(text.knowledge_changed_text(k))  # URLs and notes escaped, shown as text: never fetched


def known_html(a: KnownAnswer) -> str:
    return f"<pre><code>{escape(text.known_text(a))}</code></pre>"


def calibration_html(a: CalibrationAnswer) -> str:
    if a.n == 0:
        return escape(text.calibration_text(a))
    head, *rows = text.calibration_text(a).splitlines()
    items = "".join(f"<li>{escape(r.strip())}</li>" for r in rows)
    return escape(head) + (f"<ul>{items}</ul>" if items else "")


def history_html(h: HistoryAnswer) -> str:
    cells = "".join(
        colored("■", AMBER if r.unverified else {RunStatus.RED: RED, RunStatus.GREEN: GREEN}.get(r.status, GREY))
        for r in h.runs
    )
    rows = "".join(
        f"<tr><td>{status_badge(r.status, r.unverified)}</td><td>{short(r.finished)}</td>"
        f"<td><code>{escape(r.version or '?')}</code></td><td>{escape(r.run_id)}</td>"
        f"<td>{escape(r.kind.value)}{escape(f' (by {r.started_by})') if r.started_by else ''}</td>"
        f"<td>{escape(verdict_label(r.verdict)) if r.verdict else ''}</td></tr>"
        for r in h.runs
    )
    return (
        f"<b>{escape(h.recipe)}</b> last {len(h.runs)} runs, oldest first: {cells}<table><tbody>{rows}</tbody></table>"
    )


def help_html(h: HelpAnswer) -> str:
    if h.detailed:
        return f"<pre><code>{escape(text.help_text(h))}</code></pre>"
    items = "".join(
        f"<li><code>{escape(h.prefix)} {escape(c.usage)}</code> — {escape(c.help)}</li>" for c in h.commands
    )
    return f"<b>ccci-bot commands</b><ul>{items}</ul>"


def status_html(s: StatusAnswer) -> str:
    return "<br>".join(escape(line) for line in text.status_text(s).splitlines())


def notice_html(n: NoticeAnswer) -> str:
    return escape(n.text) if n.ok else colored(escape(n.text), AMBER)


def ingest_html(r: IngestReport) -> str:
    return f"<pre><code>{escape(text.ingest_text(r))}</code></pre>"  # columns stay aligned


def reclassify_html(r: ReclassifyAnswer) -> str:
    return f"<pre><code>{escape(text.reclassify_text(r))}</code></pre>"


def rerun_queued_html(q: RerunQueued) -> str:
    return escape(text.rerun_queued_text(q))


def cancel_html(c: CancelAnswer) -> str:
    return escape(text.cancel_text(c))


HTML: dict[type, Callable[[Any], str]] = {
    WhyAnswer: why_html,
    SummaryAnswer: summary_html,
    HistoryAnswer: history_html,
    HelpAnswer: help_html,
    StatusAnswer: status_html,
    NoticeAnswer: notice_html,
    RerunQueued: rerun_queued_html,
    CancelAnswer: cancel_html,
    IngestReport: ingest_html,
    ReclassifyAnswer: reclassify_html,
    KnowledgeChanged: knowledge_changed_html,
    KnownAnswer: known_html,
    CalibrationAnswer: calibration_html,
}
