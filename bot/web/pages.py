"""The evidence pages as server-rendered HTML: no build step, no script, readable on a phone.

Everything from cc-ci's files (names, messages, log lines) is escaped here, and log text is masked
before it is escaped. Pages link to each other by the bot's own paths, relative to the server root.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from html import escape
from urllib.parse import quote

from bot.artifacts.junit import JunitFile
from bot.artifacts.layout import Layout
from bot.artifacts.timefmt import short
from bot.masking import Masker
from bot.model.answers import HistoryAnswer, HistoryRun, KnownAnswer, WhyAnswer
from bot.model.knowledge import AuditEntry
from bot.model.records import (
    Category,
    EvidenceItem,
    EvidenceKind,
    Failure,
    RunRow,
    RunStatus,
    TestCase,
    TestStatus,
    TierResult,
    Verdict,
)
from bot.model.reports import SweepReport
from bot.render.evidence import where as shown_where
from bot.render.html import repo_lines_html
from bot.render.reports import CELL_MARK
from bot.render.strength import verdict_label
from bot.web.logview import LogPage

_CSS = """
:root{--red:#c0392b;--green:#27ae60;--amber:#d68910;--grey:#7f8c8d;--bg:#fff;--fg:#1d1d1f;--line:#e5e5e5}
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,sans-serif;color:var(--fg);background:var(--bg)}
header{padding:.6rem 1rem;border-bottom:1px solid var(--line);display:flex;gap:1rem;flex-wrap:wrap}
header a{color:inherit;text-decoration:none;font-weight:600}main{padding:1rem;max-width:72rem}
h1{font-size:1.25rem;margin:.2rem 0 .8rem}h2{font-size:1.05rem;margin:1.2rem 0 .4rem}
a{color:#1a5fb4}.scroll{overflow-x:auto}table{border-collapse:collapse}
td,th{padding:.25rem .5rem;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
.cell{display:inline-block;min-width:1.8rem;text-align:center;border-radius:3px;color:#fff;font-weight:700}
.pass{background:var(--green)}.fail,.error,.red{background:var(--red)}.skip,.unknown,.none{background:var(--grey)}
.unver{background:var(--amber)}.green{background:var(--green)}
.badge{display:inline-block;padding:0 .4rem;border-radius:3px;background:#eef;font-size:.85rem}
.strip{display:flex;gap:3px;flex-wrap:wrap;align-items:flex-start}
.strip a{display:flex;flex-direction:column;align-items:center;text-decoration:none;color:var(--fg);font-size:.7rem}
.strip .cell{width:1.6rem;height:1.6rem}
pre{background:#f6f8fa;padding:.5rem;overflow-x:auto;font-size:.8rem}
.log{font:12px/1.4 ui-monospace,monospace;white-space:pre-wrap;word-break:break-all}
.log div{padding:0 .3rem}.log a.n{color:var(--grey);display:inline-block;min-width:5.5em;user-select:none}
.log div.hl{background:#fde2e1}.log div:target{background:#fff3bf}
nav.pager{display:flex;gap:1rem;margin:.5rem 0;flex-wrap:wrap}.muted{color:var(--grey)}
svg.weeks rect{fill:var(--red)}svg.weeks line{stroke:var(--line)}
"""


def layout(title: str, body: str) -> str:
    """A whole page: one inline stylesheet (allowed by the CSP), no scripts."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)} · ccci-bot</title><style>{_CSS}</style></head><body>"
        '<header><a href="/">ccci-bot</a><a href="/known">known</a><a href="/api/summary">api</a>'
        '<a href="/healthz">health</a></header>'
        f"<main>{body}</main></body></html>"
    )


def _recipe_href(recipe: str) -> str:
    return f"/recipes/{quote(recipe, safe='')}"


def run_href(run_id: str, rest: str = "") -> str:
    return f"/runs/{quote(run_id, safe='')}/{rest}"


def _cell(status: TestStatus | None, href: str | None = None, title: str = "") -> str:
    cls = status.value if status else "none"
    mark = CELL_MARK.get(status, "·") if status else "·"
    inner = f'<span class="cell {cls}" title="{escape(title or cls)}">{mark}</span>'
    return f'<a href="{escape(href)}">{inner}</a>' if href else inner


def _run_cell(status: RunStatus, unverified: bool, title: str) -> str:
    cls = "unver" if unverified else status.value
    mark = "?" if unverified else {RunStatus.RED: "✗", RunStatus.GREEN: "✓"}.get(status, "·")
    return f'<span class="cell {cls}" title="{escape(title)}">{mark}</span>'


def _verdict(v: Verdict | None) -> str:
    if v is None:
        return '<span class="muted">not classified</span>'
    return f'<span class="badge">{escape(verdict_label(v))}</span>'


def _tier_title(recipe: str, tier: str, status: TestStatus | None) -> str:
    return f"{recipe} {tier}: {status.value if status else 'not run'}"


def index_page(report: SweepReport | None) -> str:
    if report is None:
        return layout("no sweep yet", "<h1>No sweep has been seen yet</h1><p>Check <code>ccci.runs_dir</code>.</p>")
    c = report.counts
    head = (
        f"<h1>Latest sweep <code>{escape(report.sweep_id)}</code></h1>"
        f"<p>{short(report.started)} → {short(report.finished)} · {c['total']} recipes: {c['green']} green, "
        f"{c['red']} red, {c['unverified']} unverified, {c['skipped']} not run</p>"
    )
    cols = "".join(f"<th>{escape(t)}</th>" for t in report.tiers)
    rows = []
    for r in report.rows:
        cells = "".join(
            f"<td>{_cell(r.tiers.get(t), run_href(r.run_id), _tier_title(r.recipe, t, r.tiers.get(t)))}</td>"
            for t in report.tiers
        )
        verdict = _verdict(r.verdict) if r.status is RunStatus.RED else ""
        moved = f'<span class="muted">{escape(r.change.value)}</span>' if r.change.value != "still-green" else ""
        rows.append(
            f'<tr><td><a href="{_recipe_href(r.recipe)}">{escape(r.recipe)}</a></td>{cells}'
            f"<td>{verdict}</td><td>{moved}</td></tr>"
        )
    table = (
        f'<div class="scroll"><table><thead><tr><th>recipe</th>{cols}<th>verdict</th><th></th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )
    shared = "".join(
        f"<li>{len(cl.recipes)} recipes share: <code>{escape(cl.signature)}</code>"
        f" ({escape(', '.join(cl.recipes))})</li>"
        for cl in report.clusters
    )
    return layout(report.sweep_id, head + table + (f"<h2>Shared failures</h2><ul>{shared}</ul>" if shared else ""))


def _evidence_list(items: Iterable[EvidenceItem], ccci: Layout) -> str:
    """Evidence items, each linked when it is a file of a run the pages serve (results, log, JUnit)."""
    out = []
    for e in items:
        where = shown_where(e) or ""  # a host path (the warm dir's canonical.json, a recipe clone) is not shown
        if e.run_id is None or ccci.kind(e.path) is None:
            label = escape(where)
        else:
            href = run_href(e.run_id, quote(e.path, safe="/")) + (f"?line={e.line}#L{e.line}" if e.line else "")
            label = f'<a href="{escape(href)}">{escape(where)}</a>'
        out.append(f"<li>[{escape(e.kind)}] {label}<pre>{escape(e.excerpt)}</pre></li>")
    return f"<ul>{''.join(out)}</ul>" if out else ""


def _failures(failures: list[Failure], run_id: str) -> str:
    items = "".join(
        f'<li><a href="{escape(junit_href(run_id, f.junit_file))}">'
        f"<code>{escape(f.tier)}/{escape(f.source)}</code></a> <b>{escape(f.test)}</b>"
        f"<pre>{escape(f.message[:2000])}</pre></li>"
        for f in failures
    )
    return f"<ul>{items}</ul>" if items else ""


def _base(junit_file: str) -> str:
    return junit_file.rsplit("/", 1)[-1]


def junit_href(run_id: str, junit_file: str) -> str:
    """The JUnit page of a run's JUnit file (its path in the run dir, or only its name)."""
    return run_href(run_id, "junit/" + quote(_base(junit_file), safe=""))


def _run_title(r: HistoryRun) -> str:
    by = f" by {r.started_by}" if r.started_by else ""  # who asked for an isolation rerun
    return f"{r.run_id} {r.kind.value}{by} {short(r.finished)}"


def recipe_page(
    why: WhyAnswer, history: HistoryAnswer, masker: Masker, ccci: Layout, trail: list[AuditEntry] | None = None
) -> str:
    runs = history.runs
    flaky = sum(1 for r in runs if r.verdict is not None and r.verdict.category is Category.FLAKE)
    red = sum(1 for r in runs if r.status is RunStatus.RED)
    strip = "".join(
        f'<a href="{escape(run_href(r.run_id))}" title="{escape(_run_title(r))}">'
        f"{_run_cell(r.status, r.unverified, r.run_id)}<span>{escape((r.version or '?').split('+')[0])}</span></a>"
        for r in runs
    )
    parts = [
        f"<h1>{escape(why.recipe)}</h1>",
        f'<h2>Last {len(runs)} runs <span class="muted">(oldest left, newest right)</span></h2>',
        f'<div class="strip">{strip}</div>',
        f"<p>{red} of {len(runs)} red; flake rate {flaky} of {len(runs)} ({(flaky / len(runs) if runs else 0):.0%})"
        " judged flake.</p>",
    ]
    if why.run_id is not None:
        state = "unverified" if why.unverified else why.status.value
        parts.append(
            f'<h2>Now: {escape(state)} <a href="{escape(run_href(why.run_id))}">run {escape(why.run_id)}</a> '
            f"<code>{escape(why.version or '?')}</code></h2>"
        )
        if why.red_runs:
            parts.append(f"<p>red since {short(why.red_since)}, {why.red_runs} run(s) in a row</p>")
        if why.verdict is not None:
            parts.append(f"<p>Verdict: {_verdict(why.verdict)} — {escape(masker.mask(why.verdict.reason))}</p>")
        parts.append(_failures(why.failures, why.run_id))
        shown = [e for e in why.evidence if e.kind is not EvidenceKind.FAILURE]
        masked = [EvidenceItem(e.kind, e.run_id, e.path, e.line, masker.mask(e.excerpt), e.url) for e in shown]
        if masked:
            parts.append(f"<h2>Evidence</h2>{_evidence_list(masked, ccci)}")
    parts.append(_memory(why, trail or [], masker))
    repo = repo_lines_html(why)
    if repo:
        parts.append(f"<h2>Links</h2><ul>{''.join(f'<li>{line}</li>' for line in repo)}</ul>")
    return layout(why.recipe, "".join(parts))


def issue_link(url: str) -> str:
    """An operator's issue URL as a link (http(s) only, escaped; never fetched by the bot), else as text."""
    if not url.startswith(("https://", "http://")):
        return f"<code>{escape(url)}</code>"
    return f'<a href="{escape(url)}" rel="noopener noreferrer nofollow">{escape(url)}</a>'


def weeks_chart(counts: tuple[int, ...]) -> str:
    """Hits per week as a small inline SVG bar chart (no script; the CSP allows inline images)."""
    if not counts:
        return ""
    top = max(max(counts), 1)
    bar, gap, height = 6, 2, 20
    width = len(counts) * (bar + gap)
    rects = "".join(
        f'<rect x="{i * (bar + gap)}" y="{height - round(height * c / top)}" width="{bar}"'
        f' height="{round(height * c / top)}"><title>{c} in week {i + 1 - len(counts)}</title></rect>'
        for i, c in enumerate(counts)
        if c
    )
    label = f"red runs per week, the last {len(counts)} weeks, oldest first: {', '.join(map(str, counts))}"
    return (
        f'<svg class="weeks" role="img" aria-label="{escape(label)}" width="{width}" height="{height + 1}"'
        f' viewBox="0 0 {width} {height + 1}"><line x1="0" y1="{height + 0.5}" x2="{width}" y2="{height + 0.5}"/>'
        f"{rects}</svg>"
    )


def _recipe_links(recipes: list[str]) -> str:
    return ", ".join(f'<a href="{_recipe_href(r)}">{escape(r)}</a>' for r in recipes)


def known_page(known: KnownAnswer, masker: Masker) -> str:
    """The known issues (each URL escaped as a link, never fetched) with hits per week, and the muted reds."""
    rows = "".join(
        f"<tr><td>{issue_link(i.url)}<br>{escape(masker.mask(i.note))}</td>"
        f"<td>{_recipe_links(i.recipes)}</td>"
        f"<td>{i.hits}</td><td>{weeks_chart(i.weekly)}</td>"
        f"<td>{short(i.first_seen) if i.first_seen else '—'} → {short(i.last_seen) if i.last_seen else '—'}</td>"
        f"<td>{'still failing' if i.still_failing else '<span class=muted>not failing that way now</span>'}</td>"
        f"<td>{escape(i.by)}, {short(i.since)}</td></tr>"
        for i in known.issues
    )
    parts = [f"<h1>Known issues ({len(known.issues)})</h1>"]
    if rows:
        parts.append(
            '<div class="scroll"><table><thead><tr><th>issue</th><th>recipes</th><th>red runs</th>'
            '<th>per week <span class="muted">(last 12)</span></th><th>first → last seen</th><th>now</th>'
            f"<th>linked by</th></tr></thead><tbody>{rows}</tbody></table></div>"
        )
    else:
        parts.append("<p>No issue linked yet (<code>link &lt;recipe&gt; &lt;issue-url&gt;</code> records one).</p>")
    muted = "".join(
        f'<li><a href="{_recipe_href(m.recipe)}">{escape(m.recipe)}</a> until {short(m.until)} by {escape(m.by)}'
        + (f" — {escape(masker.mask(m.reason))}" if m.reason else "")
        + ("" if m.applies else ' <span class="muted">(lapsed: it fails differently or is green now)</span>')
        + "</li>"
        for m in known.muted
    )
    parts.append(f"<h2>Muted ({len(known.muted)})</h2><ul>{muted}</ul>" if muted else "<h2>Muted</h2><p>None.</p>")
    return layout("known issues", "".join(parts))


def _trail_detail(e: AuditEntry) -> str:
    d = e.detail
    shown = []
    for key in ("category", "url", "until", "kind", "shape", "before", "note", "reason"):
        value = d.get(key)
        if value in (None, ""):
            continue
        if key == "url":
            shown.append(issue_link(str(value)))
        elif key == "until" and isinstance(value, int | float):
            shown.append(f"until {short(float(value))}")
        elif key == "before":
            shown.append(f"replacing {escape(str(value))}")
        else:
            shown.append(escape(str(value)))
    return " · ".join(shown)


def _memory(why: WhyAnswer, trail: list[AuditEntry], masker: Masker) -> str:
    """What the operators recorded about the recipe (link, mute, hand verdict) and who changed what."""
    parts = []
    for k in why.known_issues:
        state = "" if k.matches_current else ' <span class="muted">(recorded for another failure)</span>'
        note = f" — {escape(masker.mask(k.note))}" if k.note else ""
        parts.append(f"<li>Linked: {issue_link(k.url)}{note} ({escape(k.by)}, {short(k.since)}){state}</li>")
    if why.verdict is not None and why.verdict.by is not None:
        parts.append(
            f"<li>Verdict by hand: <b>{escape(why.verdict.category)}</b> ({escape(why.verdict.by)})"
            f" — {escape(masker.mask(why.verdict.reason))}</li>"
        )
    if why.rules_verdict is not None:
        parts.append(f"<li>The rules say: {_verdict(why.rules_verdict)}</li>")
    parts += [f"<li>Evidence against it: {escape(masker.mask(d))}</li>" for d in why.disagreement]
    if why.muted is not None:
        m = why.muted
        reason = f" — {escape(masker.mask(m.reason))}" if m.reason else ""
        parts.append(f"<li>Muted until {short(m.until)} ({escape(m.by)}){reason}</li>")
    parts += [f'<li class="muted">No longer applies: {escape(masker.mask(x))}</li>' for x in why.lapsed]
    if not parts and not trail:
        return ""
    rows = "".join(
        f"<tr><td>{short(e.at)}</td><td>{escape(e.by)}</td><td>{escape(e.action.value)}</td>"
        f"<td>{masker.mask(_trail_detail(e))}</td></tr>"
        for e in trail
    )
    history = (
        f'<h3>History <span class="muted">(newest first)</span></h3><div class="scroll"><table><thead><tr>'
        f"<th>when</th><th>who</th><th>what</th><th></th></tr></thead><tbody>{rows}</tbody></table></div>"
        if rows
        else ""
    )
    return f"<h2>What the operators know</h2><ul>{''.join(parts)}</ul>{history}"


def run_page(
    run: RunRow,
    tiers: list[TierResult],
    cases: list[TestCase],
    failures: list[Failure],
    verdict: Verdict | None,
    evidence: list[EvidenceItem],
    artifacts: list[tuple[str, int]],
    masker: Masker,
    ccci: Layout,
) -> str:
    tier_cells = " ".join(f"{escape(t.name)} {_cell(t.status, None, t.status.value)}" for t in tiers)
    rows = "".join(
        f"<tr><td>{_cell(c.status)}</td><td>{escape(c.tier)}</td><td>{escape(c.name)}</td>"
        f'<td><a href="{escape(junit_href(run.run_id, c.junit_file))}">'
        f"{escape(_base(c.junit_file))}</a></td><td>{c.ms} ms</td></tr>"
        for c in cases
    )
    files = "".join(
        f'<li><a href="{escape(run_href(run.run_id, quote(path, safe="/")))}">{escape(path)}</a> '
        f'<span class="muted">{size:,} bytes</span></li>'
        for path, size in artifacts
    )
    shown = [
        EvidenceItem(e.kind, e.run_id, e.path, e.line, masker.mask(e.excerpt), e.url)
        for e in evidence
        if e.kind is not EvidenceKind.FAILURE
    ]
    body = [
        f"<h1>Run <code>{escape(run.run_id)}</code> of "
        f'<a href="{_recipe_href(run.recipe)}">{escape(run.recipe)}</a></h1>',
        f"<p><code>{escape(run.version or '?')}</code> · {escape(run.kind.value)} · "
        f"{short(run.started)} → {short(run.finished)} · "
        f"{_run_cell(run.status, run.unverified, run.status.value)} {escape(run.status.value)}</p>",
        f"<p>{tier_cells}</p>",
    ]
    if run.retired_at is not None:
        body.append(f'<p class="muted">The run dir no longer exists (found gone {short(run.retired_at)}).</p>')
    if run.status is RunStatus.RED:
        body.append(f"<h2>Verdict</h2><p>{_verdict(verdict)}")
        body.append(f" — {escape(masker.mask(verdict.reason))}</p>" if verdict else "</p>")
    if failures:
        body.append(f"<h2>Failing</h2>{_failures(failures, run.run_id)}")
    if shown:
        body.append(f"<h2>Evidence</h2>{_evidence_list(shown, ccci)}")
    body.append(f'<h2>Tests</h2><div class="scroll"><table><tbody>{rows}</tbody></table></div>')
    body.append(f'<h2>Artifacts</h2><ul>{files}</ul><p><a href="{run_href(run.run_id, "log")}">runner log</a></p>')
    return layout(f"run {run.run_id}", "".join(body))


# Terminal control sequences (colours, cursor moves) mean nothing on a page; \r-redrawn progress
# lines are kept whole, each redraw marked, so no text the runner wrote is hidden.
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def log_text(text: str) -> str:
    """A log line as a reader should see it: escapes stripped, redraws marked with ⏎."""
    text = _ANSI.sub("", text).replace("\r", " ⏎ ")
    return _CONTROL.sub("", text)


LIVE_REFRESH_S = 5


def rerun_log_page(run_id: str, page: LogPage, masker: Masker) -> str:
    """The end of a rerun's log, reloaded by the browser every few seconds (no script: a meta refresh)."""
    lines = "".join(
        f'<div id="L{n}"><a class="n" href="#L{n}">{n}</a>{escape(log_text(masker.mask(text)))}</div>'
        for n, text in page.lines
    )
    body = (
        f"<h1>Rerun <code>{escape(run_id)}</code>: its log, live</h1>"
        f'<p class="muted">The last {len(page.lines)} lines; this page reloads every {LIVE_REFRESH_S} s. '
        "Once the run is read, its run page has the whole record.</p>"
        f'<div class="log">{lines}</div>'
    )
    html = layout(f"rerun {run_id}", body)
    return html.replace("<head>", f'<head><meta http-equiv="refresh" content="{LIVE_REFRESH_S}">', 1)


def log_page(run_id: str, page: LogPage, highlights: set[int], masker: Masker, count: int) -> str:
    base = run_href(run_id, "log")
    lines = "".join(
        f'<div id="L{n}"{" class=hl" if n in highlights else ""}><a class="n" href="#L{n}">{n}</a>'
        f"{escape(log_text(masker.mask(text)))}</div>"
        for n, text in page.lines
    )
    nav = [f'<a href="{base}?start=1">first</a>']
    if page.prev_start is not None:
        nav.append(f'<a href="{base}?start={page.prev_start}">← previous {count}</a>')
    if page.next_start is not None:
        nav.append(f'<a href="{base}?start={page.next_start}">next {count} →</a>')
    nav.append(f'<a href="{base}?tail=1">last</a>')
    nav.append(f'<a href="{base}?raw=1">raw</a>')
    jumps = "".join(f'<a href="{base}?line={n}#L{n}">L{n}</a> ' for n in sorted(highlights)[:20])
    total = f"{page.total_lines:,} lines" if page.total_lines is not None else "lines not counted yet"
    pager = f'<nav class="pager">{" ".join(nav)}</nav>'
    head = (
        f'<h1>Log of <a href="{run_href(run_id)}">run {escape(run_id)}</a></h1>'
        f'<p class="muted">lines {page.first_line:,}–{page.last_line:,} · {total} · {page.total_bytes:,} bytes</p>'
    )
    failing = f"<p>Failure lines: {jumps}</p>" if jumps else ""
    return layout(f"log {run_id}", f'{head}{failing}{pager}<div class="log">{lines}</div>{pager}')


def junit_page(run_id: str, name: str, junit: JunitFile, masker: Masker) -> str:
    rows = []
    for c in junit.tests:
        detail = masker.mask(c.text or c.message)
        rows.append(
            f"<tr><td>{_cell(c.status)}</td><td><b>{escape(c.name)}</b><br>"
            f'<span class="muted">{escape(c.classname)}</span></td><td>{c.ms} ms</td>'
            f"<td>{escape(masker.mask(c.message)[:500])}"
            + (f"<details><summary>failure text</summary><pre>{escape(detail)}</pre></details>" if detail else "")
            + "</td></tr>"
        )
    problem = f"<p><b>Read with a problem:</b> {escape(junit.problem)}</p>" if junit.problem else ""
    raw = junit_href(run_id, name) + "?raw=1"
    body = (
        f'<h1><code>{escape(name)}</code> of <a href="{run_href(run_id)}">run {escape(run_id)}</a></h1>'
        f'<p>tier {escape(junit.tier)} · source {escape(junit.source)} · <a href="{raw}">raw XML</a></p>{problem}'
        f'<div class="scroll"><table><thead><tr><th></th><th>test</th><th>time</th><th>message</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )
    return layout(name, body)


def error_page(status: int, message: str) -> str:
    return layout(str(status), f"<h1>{status}</h1><p>{escape(message)}</p>")
