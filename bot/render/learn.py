"""`learn`'s answer as text, Matrix HTML and JSON: the checks first, then what to do (or what was done).

The room reads the checks as short lines (✓ / ✗); how to confirm depends on where it was asked: a 👍
on the reply in chat, ``--apply`` on the command line.
"""

from __future__ import annotations

from html import escape
from typing import Any

from bot.artifacts.timefmt import iso
from bot.model.learn import LearnAnswer, LearnProposal
from bot.model.records import Verdict
from bot.render.jsonview import verdict_json
from bot.render.strength import verdict_label

CONFIRM_EMOJI = "👍"
OTHERS_SHOWN = 10


def _verdict(v: Verdict | None) -> str:
    return verdict_label(v) if v is not None else "no verdict yet"


def _checks(p: LearnProposal) -> list[str]:
    lines = []
    if p.failure is not None:
        lines.append(f"✓ matches the current failure {p.failure} (run {p.run_id}): {p.excerpt!r}")
    greens = p.greens
    if greens is not None:
        mark = "✗" if greens.matched else "✓"
        lines.append(f"{mark} matches {greens.matched or 'none'} of {greens.checked} green run(s)")
        lines += [f"    {h.recipe} run {h.run_id} {h.path}: {h.excerpt[:120]}" for h in greens.hits]
        if greens.unreadable:
            lines.append(f"    ({greens.unreadable} green run(s) had no readable log or JUnit file)")
        if greens.partial:
            lines.append(f"    ({greens.partial} file(s) read only up to the size cap)")
    if p.failure is not None:
        if p.others:
            shown = ", ".join(f"{o.recipe} ({o.test}, now {_verdict(o.verdict)})" for o in p.others[:OTHERS_SHOWN])
            more = f" and {len(p.others) - OTHERS_SHOWN} more" if len(p.others) > OTHERS_SHOWN else ""
            lines.append(f"  it would also weigh on {len(p.others)} other red(s): {shown}{more}")
        else:
            lines.append("  no other current red matches it")
    return lines


def _head(a: LearnAnswer) -> str:
    p = a.proposal
    r = p.request
    if a.refused:
        return f"Not learned ({p.refusal}): {p.reason}."
    if a.taught is not None:
        return f"Taught {p.signature_id} ({r.category}) from {r.recipe}'s failure."
    return f"Proposed {p.signature_id}: {r.category} for failures matching {r.pattern!r} (from {r.recipe})."


def _tail(a: LearnAnswer, chat: bool) -> list[str]:
    taught = a.taught
    if taught is not None:
        lines = [
            f"Written as {taught.file_name} in the knowledge directory by {taught.by} at {iso(taught.at)};"
            f" knowledge base {taught.kb_version}, {len(taught.reclassified)} red recipe(s) decided again:"
        ]
        width = max((len(v.recipe) for v in taught.reclassified), default=0)
        lines += [f"  {v.recipe:<{width}}  {_verdict(v.verdict)}" for v in taught.reclassified]
        return lines
    if not a.confirmable:
        return []
    if chat:
        return [f"An operator's {CONFIRM_EMOJI} on this message teaches it."]
    return ["Run it again with --apply to teach it."]


def learn_text(a: LearnAnswer, chat: bool = False) -> str:
    return "\n".join([_head(a), *_checks(a.proposal), *_tail(a, chat)])


def learn_html(a: LearnAnswer, chat: bool = False) -> str:
    head = escape(_head(a))
    body = "<br>".join(escape(line) for line in [*_checks(a.proposal), *_tail(a, chat)])
    return f"<p><b>{head}</b></p><p>{body}</p>" if body else f"<p><b>{head}</b></p>"


def learn_json(a: LearnAnswer) -> dict[str, Any]:
    p = a.proposal
    greens = p.greens
    taught = a.taught
    return {
        "recipe": p.request.recipe,
        "category": p.request.category.value,
        "pattern": p.request.pattern,
        "signature_id": p.signature_id,
        "accepted": p.acceptable,
        "refusal": p.refusal.value if p.refusal is not None else None,
        "reason": p.reason or None,
        "run_id": p.run_id,
        "matches_current": p.failure is not None,
        "failure": p.failure,
        "excerpt": p.excerpt,
        "green_runs": None
        if greens is None
        else {
            "checked": greens.checked,
            "matched": greens.matched,
            "unreadable": greens.unreadable,
            "partial": greens.partial,
            "seconds": round(greens.seconds, 3),
            "hits": [
                {"run_id": h.run_id, "recipe": h.recipe, "path": h.path, "excerpt": h.excerpt} for h in greens.hits
            ],
        },
        "other_reds": [
            {"recipe": o.recipe, "run_id": o.run_id, "test": o.test, "verdict": verdict_json(o.verdict)}
            for o in p.others
        ],
        "taught": None
        if taught is None
        else {
            "file": taught.file_name,
            "by": taught.by,
            "at": iso(taught.at),
            "kb_version": taught.kb_version,
            "verdicts": [
                {"recipe": v.recipe, "run_id": v.run_id, "verdict": verdict_json(v.verdict)}
                for v in taught.reclassified
            ],
        },
    }
