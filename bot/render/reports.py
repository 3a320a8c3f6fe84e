"""Sweep summaries and red reports as plain text, Matrix HTML and JSON.

A summary has two parts: a headline (counts and what moved) that always fits a glance, and details
(the recipe × tier grid, each red recipe's failure, verdict and links, shared failures). The poster
decides whether the details go in the same message or in the headline's thread.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from html import escape
from typing import Any

from bot.artifacts.timefmt import iso, short
from bot.model.knowledge import RedState
from bot.model.records import Category, RunStatus, Strength, TestStatus, Verdict
from bot.model.reports import Action, Change, LapseNote, RedReport, RedRow, ReportRow, SweepReport
from bot.render.html import AMBER, GREEN, GREY, RED, anchor, colored, status_badge
from bot.render.jsonview import failure_json, known_issue_json, muted_json, verdict_json
from bot.render.strength import strength_words, verdict_label
from bot.render.text import red_states

CELL_MARK = {  # a tier's or test's status as one character (grids in chat and on the pages)
    TestStatus.PASS: "✓",
    TestStatus.FAIL: "✗",
    TestStatus.ERROR: "!",
    TestStatus.SKIP: "-",
    TestStatus.UNVER: "?",
}
_CELL_COLOR = {
    TestStatus.PASS: GREEN,
    TestStatus.FAIL: RED,
    TestStatus.ERROR: RED,
    TestStatus.SKIP: GREY,
    TestStatus.UNVER: AMBER,
}
_LEGEND = "✓ pass  ✗ fail  ! error  - skipped  ? unverified  · not run"


@dataclass(frozen=True)
class Rendered:
    text: str
    html: str


@dataclass(frozen=True)
class VerdictChange:
    recipe: str
    before: Verdict | None
    after: Verdict


def _verdict_short(v: Verdict | None) -> str:
    return verdict_label(v) if v else "not classified"


def _rate(counts: dict[str, int]) -> str:
    """``; 6 red: 2 need a look, 3 known, 1 muted`` when anything is red (the classification rate)."""
    return f"; {red_states(counts)}" if counts["need_look"] + counts["known"] + counts["muted"] else ""


Row = ReportRow | RedRow


def _by_state(rows: list[Row]) -> tuple[list[Row], list[Row], list[Row]]:
    """(need a look, known, muted): the reports lead with what nobody has looked at yet."""
    known = [r for r in rows if r.state is RedState.KNOWN]
    muted = [r for r in rows if r.state is RedState.MUTED]
    return [r for r in rows if r not in known and r not in muted], known, muted


def _known_line(r: Row) -> str:
    """A known red in one line: recipe, linked issue, note (or the verdict given by hand)."""
    issue = r.issues[0] if r.issues else None
    if issue is not None:
        return f"{r.recipe}: {issue.url}" + (f" — {issue.note}" if issue.note else "")
    v = r.verdict
    by_hand = f"{v.category} by hand ({v.by})" + (f" — {v.reason}" if v.reason else "") if v else "known"
    return f"{r.recipe}: {by_hand}"


def _known_html(rows: list[Row]) -> str:
    return f"<b>Known ({len(rows)})</b><ul>{''.join(f'<li>{escape(_known_line(r))}</li>' for r in rows)}</ul>"


def _muted_line(rows: list[Row]) -> str:
    return f"Muted ({len(rows)}): " + ", ".join(
        f"{r.recipe} until {short(r.muted.until) if r.muted else '?'}" for r in rows
    )


def _links(r: ReportRow | RedRow) -> list[tuple[str, str]]:
    """The row's log and JUnit links that exist (a run without a failing JUnit file has no JUnit link)."""
    return [(name, url) for name, url in (("log", r.log_url), ("junit", r.junit_url)) if url]


def _links_text(r: ReportRow | RedRow) -> str:
    return "  ".join(f"{name}: {url}" for name, url in _links(r))


def _links_html(r: ReportRow | RedRow) -> str:
    return " · ".join(anchor(name, url) for name, url in _links(r))


def _names(rows: list[ReportRow]) -> str:
    return ", ".join(r.recipe for r in rows)


def _still_red(rows: list[ReportRow]) -> str:
    return ", ".join(f"{r.recipe} ({r.red_sweeps} sweeps, since {short(r.red_since)})" for r in rows)


def _moves(report: SweepReport) -> list[tuple[str, str]]:
    """(label, names) of what moved that the action lines do not say: greens, and recipes not run."""
    found = []
    newly_green = report.of(Change.NEWLY_GREEN)
    if newly_green:
        found.append(("Newly green", _names(newly_green)))
    if report.not_run:
        found.append(("Not in this sweep", ", ".join(report.not_run)))
    return found


_ACTION_LABEL = {
    Action.NEED_LOOK: "Need a look",
    Action.RERUNNING: "Rerunning",
    Action.KNOWN: "Known",
    Action.MUTED: "Muted",
    Action.NO_ACTION: "No action",
}


def _age(r: ReportRow) -> str:
    if r.change in (Change.NEWLY_RED, Change.FIRST):
        return "new"
    return f"red {r.red_sweeps} sweeps" if r.red_sweeps > 1 else "still red"


def _words(v: Verdict | None) -> str:
    """``upstream-defect, red the same way across sweeps``: the verdict and what it rests on, unbracketed."""
    if v is None:
        return "not classified"
    label = verdict_label(v)
    return label.replace(" (", ", ", 1).removesuffix(")") if " (" in label else label


def _few_words(action: Action, r: ReportRow) -> str:
    """One red in a few words, saying why it is in its group."""
    if action is Action.KNOWN:
        return _known_line(r)
    if action is Action.MUTED:
        return f"{r.recipe} until {short(r.muted.until) if r.muted else '?'}"
    if action is Action.NO_ACTION:
        infra = r.unverified or (r.verdict is not None and r.verdict.category is Category.INFRA)
        passed = r.verdict is not None and r.verdict.strength in (Strength.RERUNS, Strength.GREEN_LATER)
        if infra:
            why = "infra: passed alone since" if passed else "infra: the next sweep tests it again"
        else:
            why = "flake, settled by isolation reruns"
        return f"{r.recipe} ({why})"
    if action is Action.RERUNNING:
        return f"{r.recipe} ({_age(r)}): {_words(r.verdict)}; isolation rerun queued"
    return f"{r.recipe} ({_age(r)}): {_words(r.verdict)}"


_RATE_WORDS = {
    Action.NEED_LOOK: "need a look",
    Action.RERUNNING: "rerunning",
    Action.KNOWN: "known",
    Action.MUTED: "muted",
    Action.NO_ACTION: "no action",
}
_ALWAYS_COUNTED = (Action.NEED_LOOK, Action.KNOWN, Action.MUTED)  # the classification rate, even when 0


def action_rate(report: SweepReport) -> str:
    """``; 6 red: 2 need a look, 1 rerunning, 1 known, 0 muted, 2 no action``: the same groups as the lines
    below it, so a count never names more recipes than its line lists."""
    groups = report.by_action()
    if not groups:
        return ""
    shown = [a for a in Action if a in groups or a in _ALWAYS_COUNTED]
    total = sum(len(rows) for rows in groups.values())
    return f"; {total} red: " + ", ".join(f"{len(groups.get(a, []))} {_RATE_WORDS[a]}" for a in shown)


def action_lines(report: SweepReport) -> list[str]:
    """The headline's lines by what its reds need, each recipe with a few words (known ones by their issue)."""
    return [
        f"{_ACTION_LABEL[action]}: " + "; ".join(_few_words(action, r) for r in rows)
        for action, rows in report.by_action().items()
    ]


def lapse_line(note: LapseNote) -> str:
    """``outline fails differently now: the link to … no longer matches; the mute lapsed`` (told once)."""
    parts = [f"the link to {url} no longer matches" for url in note.link_urls]
    if note.verdict is not None:
        parts.append(f"the verdict {note.verdict} given by hand no longer applies")
    if note.mute:
        parts.append("the mute lapsed")
    return f"{note.recipe} fails differently now: " + ("; ".join(parts) or "what was recorded no longer applies")


def _title(report: SweepReport) -> str:
    late = " (late: the bot was down when it finished)" if report.late else ""
    return f"Sweep {report.sweep_id} finished{late}"


def headline(report: SweepReport) -> Rendered:
    c = report.counts
    counts = f"{c['total']} recipes: {c['green']} green, {c['red']} red, {c['unverified']} unverified"
    counts += f", {c['skipped']} not run{action_rate(report)}"
    text = [f"{_title(report)} — {counts}"]
    lines = action_lines(report) + [lapse_line(n) for n in report.lapses]
    lines += [f"{label}: {names}" for label, names in _moves(report)]
    text += lines
    html_counts = (
        f"{c['total']} recipes: {colored(str(c['green']) + ' green', GREEN)}, {colored(str(c['red']) + ' red', RED)}, "
        f"{colored(str(c['unverified']) + ' unverified', AMBER)}, {c['skipped']} not run{escape(action_rate(report))}"
    )
    html = [f"<b>{escape(_title(report))}</b> — {html_counts}"]
    html += [f"<br>{_bold_label(line)}" for line in lines]
    if not report.red:
        text.append("All green.")
        html.append("<br>All green.")
    return Rendered("\n".join(text), "".join(html))


def _bold_label(line: str) -> str:
    label, sep, rest = line.partition(": ")
    return f"<b>{escape(label)}:</b> {escape(rest)}" if sep else escape(line)


def _flip_note(r: ReportRow, window: int) -> str:
    return f"flipping: {r.flips} red/green flips in the last {window} sweeps" if r.flips >= 2 else ""


def _red_text(r: ReportRow, window: int) -> list[str]:
    lines = [f"✗ {r.recipe} {r.version or '?'} ({r.change.value}) run {r.run_id}"]
    if r.failures:
        f = r.failures[0]
        more = f" (+{len(r.failures) - 1} more)" if len(r.failures) > 1 else ""
        lines.append(f"    {f.tier}/{f.test}{more}: {textwrap.shorten(f.message, 160)}")
    elif r.unverified:
        lines.append("    unverified: a tier produced no result (infra, not evidence against the recipe)")
    lines.append(f"    verdict: {_verdict_short(r.verdict)}" + (f" — {r.verdict.reason}" if r.verdict else ""))
    flips = _flip_note(r, window)
    if flips:
        lines.append(f"    {flips}")
    links = _links_text(r)
    if links:
        lines.append(f"    {links}")
    return lines


def _grid_text(report: SweepReport) -> list[str]:
    width = max((len(r.recipe) for r in report.rows), default=6)
    head = f"{'':<{width}}  " + " ".join(f"{t[:7]:<7}" for t in report.tiers)
    lines = [head.rstrip()]
    for r in report.rows:
        cells = " ".join(f"{CELL_MARK.get(r.tiers[t], '?') if t in r.tiers else '·':<7}" for t in report.tiers)
        lines.append(f"{r.recipe:<{width}}  {cells}".rstrip())
    lines.append(_LEGEND)
    return lines


def _cell_html(status: TestStatus | None) -> str:
    if status is None:
        return "<td>·</td>"
    color = _CELL_COLOR.get(status, GREY)
    mark = CELL_MARK.get(status, "?")
    return f'<td><font data-mx-bg-color="{color}" data-mx-color="#ffffff">&nbsp;{mark}&nbsp;</font></td>'


def _grid_html(report: SweepReport) -> str:
    head = "".join(f"<th>{escape(t)}</th>" for t in report.tiers)
    rows = []
    for r in report.rows:
        cells = "".join(_cell_html(r.tiers.get(t)) for t in report.tiers)
        verdict = escape(_verdict_short(r.verdict)) if r.status is RunStatus.RED else ""
        rows.append(f"<tr><td><b>{escape(r.recipe)}</b></td>{cells}<td>{verdict}</td></tr>")
    return f"<table><thead><tr><th>recipe</th>{head}<th>verdict</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _red_html(r: ReportRow, window: int) -> str:
    parts = [
        f"<li>{status_badge(r.status, r.unverified)} <b>{escape(r.recipe)}</b> <code>{escape(r.version or '?')}</code>"
        f" <i>{escape(r.change.value)}</i>"
    ]
    if r.failures:
        f = r.failures[0]
        more = f" (+{len(r.failures) - 1} more)" if len(r.failures) > 1 else ""
        parts.append(
            f"<br><code>{escape(f.tier)}/{escape(f.test)}</code>{more}: <code>{escape(f.message[:300])}</code>"
        )
    elif r.unverified:
        parts.append("<br>unverified: a tier produced no result (infra, not evidence against the recipe)")
    if r.verdict:
        words = strength_words(r.verdict)
        parts.append(f"<br>verdict: <b>{escape(r.verdict.category)}</b>{f' ({escape(words)})' if words else ''} — ")
        parts.append(escape(r.verdict.reason))
    else:
        parts.append("<br>verdict: <i>not classified yet</i>")
    flips = _flip_note(r, window)
    if flips:
        parts.append(f"<br>{colored(escape(flips), AMBER)}")
    links = _links_html(r)
    if links:
        parts.append(f"<br>{links}")
    return "".join(parts) + "</li>"


def details(report: SweepReport, flip_window: int) -> Rendered:
    text = _grid_text(report)
    html = [_grid_html(report)]
    look, known, muted = _by_state(list(report.red))
    if look:
        text += ["", f"Needs a look ({len(look)}):"]
        for r in look:
            assert isinstance(r, ReportRow)
            text += _red_text(r, flip_window)
        items = "".join(_red_html(r, flip_window) for r in look if isinstance(r, ReportRow))
        html.append(f"<b>Needs a look ({len(look)})</b><ul>{items}</ul>")
    if known:
        text += ["", f"Known ({len(known)}):"] + [f"  {_known_line(r)}" for r in known]
        html.append(
            f"<b>Known ({len(known)})</b><ul>{''.join(f'<li>{escape(_known_line(r))}</li>' for r in known)}</ul>"
        )
    if muted:
        text += ["", _muted_line(muted)]
        html.append(f"<br>{escape(_muted_line(muted))}")
    for cl in report.clusters:
        shared = f"{len(cl.recipes)} recipes share: {textwrap.shorten(cl.signature, 160)} ({', '.join(cl.recipes)})"
        text.append(shared)
        html.append(f"<br>{escape(shared)}")
    if report.auto_reruns:
        note = (
            f"Isolation reruns queued for {', '.join(report.auto_reruns)}: their verdicts are not settled yet; "
            "this summary is updated as they finish."
        )
        text.append(note)
        html.append(f"<br><i>{escape(note)}</i>")
    return Rendered("\n".join(text), "".join(html))


def whole(head: Rendered, body: Rendered) -> Rendered:
    """Headline and details in one message (a summary short enough not to need a thread)."""
    return Rendered(f"{head.text}\n\n{body.text}", f"{head.html}<br><br>{body.html}")


def verdict_changes(sweep_id: str, changes: list[VerdictChange]) -> Rendered:
    lines = [f"{c.recipe}: {_verdict_short(c.before)} → {_verdict_short(c.after)} — {c.after.reason}" for c in changes]
    text = f"Verdict update for {sweep_id}:\n" + "\n".join(f"  {line}" for line in lines)
    html = f"<b>Verdict update for {escape(sweep_id)}</b><ul>" + "".join(f"<li>{escape(x)}</li>" for x in lines)
    return Rendered(text, html + "</ul>")


# --- the scheduled red report ---------------------------------------------------------------------


def red_report(report: RedReport) -> Rendered:
    late = " (late: the bot was down at the scheduled time)" if report.late else ""
    title = f"Red report for {iso(report.slot)}{late}"
    if not report.rows:
        text = f"{title}: all green ({report.recipes} recipes)."
        return Rendered(text, f"<b>{escape(title)}</b>: all green ({report.recipes} recipes).")
    rate = _rate(report.counts)
    told = [lapse_line(n) for n in report.lapses]
    lines = [f"{title}: {len(report.rows)} of {report.recipes} recipes red{rate}", *told]
    items = []
    look, known, muted = _by_state(list(report.rows))
    for r in look:
        assert isinstance(r, RedRow)
        age = f"red since {short(r.red_since)} ({r.red_runs} run(s))"
        failing = ""
        if r.failures:
            f = r.failures[0]
            failing = f" {f.tier}/{f.test}"
        elif r.unverified:
            failing = " unverified (infra)"
        line = f"✗ {r.recipe} {r.version or '?'}{failing} — {age}; verdict {_verdict_short(r.verdict)}"
        links = _links_text(r)
        lines.append(line + (f"\n    {links}" if links else ""))
        link_html = _links_html(r)
        items.append(
            f"<li>{status_badge(RunStatus.RED, r.unverified)} <b>{escape(r.recipe)}</b> "
            f"<code>{escape(r.version or '?')}</code><code>{escape(failing)}</code> — {escape(age)}; "
            f"verdict <b>{escape(_verdict_short(r.verdict))}</b>{' · ' + link_html if link_html else ''}</li>"
        )
    html = f"<b>{escape(title)}</b>: {len(report.rows)} of {report.recipes} recipes red{escape(rate)}"
    html += "".join(f"<br>{escape(line)}" for line in told)
    html += f"<ul>{''.join(items)}</ul>"
    if known:
        lines += [f"Known ({len(known)}):"] + [f"  {_known_line(r)}" for r in known]
        html += _known_html(known)
    if muted:
        lines.append(_muted_line(muted))
        html += escape(_muted_line(muted))
    return Rendered("\n".join(lines), html)


def no_change(report: RedReport, since: str) -> Rendered:
    """The red report's one line when nothing changed since the previous one: ``no change since Monday:
    6 red, 5 known, 1 muted`` (the full list goes in its thread)."""
    c = report.counts
    parts = [f"{c['red']} red"] + [
        f"{c[key]} {words}"
        for key, words in (("need_look", "need a look"), ("known", "known"), ("muted", "muted"))
        if c[key]
    ]
    late = " (late)" if report.late else ""
    text = f"Red report{late}: no change since {since}: {', '.join(parts)}"
    return Rendered(text, escape(text))


# --- JSON ------------------------------------------------------------------------------------------


def sweep_report_json(report: SweepReport) -> dict[str, Any]:
    return {
        "sweep_id": report.sweep_id,
        "started": iso(report.started),
        "finished": iso(report.finished),
        "previous_sweep_id": report.previous_sweep_id,
        "late": report.late,
        "counts": report.counts,
        "newly_red": [r.recipe for r in report.of(Change.NEWLY_RED)],
        "newly_green": [r.recipe for r in report.of(Change.NEWLY_GREEN)],
        "still_red": [r.recipe for r in report.of(Change.STILL_RED)],
        "not_run": report.not_run,
        "tiers": report.tiers,
        "recipes": [
            {
                "recipe": r.recipe,
                "version": r.version,
                "run_id": r.run_id,
                "status": r.status.value,
                "unverified": r.unverified,
                "change": r.change.value,
                "red_since": iso(r.red_since),
                "red_sweeps": r.red_sweeps,
                "flips": r.flips,
                "tiers": {k: v.value for k, v in r.tiers.items()},
                "failures": [failure_json(f) for f in r.failures],
                "verdict": verdict_json(r.verdict),
                "log_url": r.log_url,
                "junit_url": r.junit_url,
                "state": r.state.value if r.state is not None else None,
                "known_issues": [known_issue_json(k) for k in r.issues],
                "muted": muted_json(r.muted),
            }
            for r in report.rows
        ],
        "clusters": [{"signature": c.signature, "recipes": list(c.recipes)} for c in report.clusters],
        "auto_reruns": report.auto_reruns,
    }


def red_report_json(report: RedReport) -> dict[str, Any]:
    return {
        "slot": iso(report.slot),
        "late": report.late,
        "recipes": report.recipes,
        "counts": report.counts,
        "red": [
            {
                "recipe": r.recipe,
                "version": r.version,
                "run_id": r.run_id,
                "kind": r.kind.value if r.kind else None,
                "unverified": r.unverified,
                "red_since": iso(r.red_since),
                "red_runs": r.red_runs,
                "failures": [failure_json(f) for f in r.failures],
                "verdict": verdict_json(r.verdict),
                "log_url": r.log_url,
                "junit_url": r.junit_url,
                "state": r.state.value if r.state is not None else None,
                "known_issues": [known_issue_json(k) for k in r.issues],
                "muted": muted_json(r.muted),
            }
            for r in report.rows
        ],
    }
