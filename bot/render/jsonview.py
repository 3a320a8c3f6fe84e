"""Stable JSON for `--json`: the shapes documented in docs/commands.md. Keys are only added."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from bot.artifacts.timefmt import iso
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
    RepoLinks,
    RerunQueued,
    StatusAnswer,
    SummaryAnswer,
    WhyAnswer,
)
from bot.model.knowledge import KnownIssue, Mute
from bot.model.records import Canonical, EvidenceItem, Failure, Verdict


def failure_json(f: Failure) -> dict[str, Any]:
    return {"tier": f.tier, "source": f.source, "test": f.test, "message": f.message, "junit": f.junit_file}


def _evidence(e: EvidenceItem) -> dict[str, Any]:
    return {"kind": e.kind, "run_id": e.run_id, "path": e.path, "line": e.line, "excerpt": e.excerpt, "url": e.url}


def verdict_json(v: Verdict | None) -> dict[str, Any] | None:
    if v is None:
        return None
    return {
        "category": v.category,
        "confidence": round(v.confidence, 3),
        "reason": v.reason,
        "kb_version": v.kb_version,
        "settle": v.settle.value if v.settle is not None else None,
        "rule": v.rule,
        "strength": v.strength.value if v.strength is not None else None,
        "source": v.source.value,
        "by": v.by,
    }


def known_issue_json(k: KnownIssue) -> dict[str, Any]:
    return {
        "url": k.url,
        "note": k.note,
        "by": k.by,
        "since": iso(k.since),
        "hits": k.hits,
        "matches_current": k.matches_current,
        "first_seen": iso(k.first_seen),
        "last_seen": iso(k.last_seen),
        "failure": k.shape,
    }


def muted_json(m: Mute | None) -> dict[str, Any] | None:
    if m is None:
        return None
    return {"until": iso(m.until), "by": m.by, "reason": m.reason, "since": iso(m.at)}


def _canonical(c: Canonical | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {"recipe": c.recipe, "version": c.version, "commit": c.commit, "status": c.status, "ts": iso(c.ts)}


def why_json(a: WhyAnswer) -> dict[str, Any]:
    return {
        "recipe": a.recipe,
        "status": a.status.value,
        "version": a.version,
        "run_id": a.run_id,
        "kind": a.kind.value if a.kind else None,
        "finished": iso(a.finished),
        "unverified": a.unverified,
        "failures": [failure_json(f) for f in a.failures],
        "verdict": verdict_json(a.verdict),
        "evidence": [_evidence(e) for e in a.evidence],
        "reruns": [
            {"run_id": r.run_id, "status": r.status.value, "isolated": r.isolated, "finished": iso(r.finished)}
            for r in a.reruns
        ],
        "canonical": _canonical(a.canonical),
        "red_since": iso(a.red_since),
        "red_runs": a.red_runs,
        "url": a.run_url,
        "known_issues": [known_issue_json(k) for k in a.known_issues],
        "muted": muted_json(a.muted),
        "rules_verdict": verdict_json(a.rules_verdict),
        "disagreement": a.disagreement,
        "state": a.state.value if a.state is not None else None,
        "failure": a.fingerprint or None,
        "lapsed": a.lapsed,
        "repo": repo_json(a.repo),
    }


def repo_json(r: RepoLinks) -> dict[str, Any]:
    return {
        "repository": r.repository,
        "tested": r.tested,
        "compare": {"from": r.compare_from, "to": r.compare_to, "url": r.compare}
        if r.compare_from and r.compare_to
        else None,
        "ccci_commits": [{"test": c.test, "path": c.path, "commit": c.commit, "url": c.url} for c in r.ccci_commits],
    }


def summary_json(s: SummaryAnswer) -> dict[str, Any]:
    return {
        "sweep_id": s.sweep_id,
        "started": iso(s.started),
        "finished": iso(s.finished),
        "counts": s.counts,
        "recipes": [
            {
                "recipe": r.recipe,
                "version": r.version,
                "run_id": r.run_id,
                "status": r.status.value,
                "unverified": r.unverified,
                "failures": [failure_json(f) for f in r.failures],
                "verdict": verdict_json(r.verdict),
                "log_url": r.log_url,
                "state": r.state.value if r.state is not None else None,
                "known_issues": [known_issue_json(k) for k in r.known_issues],
                "muted": muted_json(r.muted),
            }
            for r in s.rows
        ],
        "clusters": [{"signature": c.signature, "recipes": list(c.recipes)} for c in s.clusters],
    }


def reclassify_json(r: ReclassifyAnswer) -> dict[str, Any]:
    return {
        "kb_version": r.kb_version,
        "signatures": r.signatures,
        "kb_problems": r.kb_problems,
        "verdicts": [{"recipe": c.recipe, "run_id": c.run_id, "verdict": verdict_json(c.verdict)} for c in r.verdicts],
    }


def ingest_json(r: IngestReport) -> dict[str, Any]:
    return {
        "scanned": r.scanned,
        "ingested": r.ingested,
        "unchanged": r.unchanged,
        "in_progress": r.in_progress,
        "canonicals": r.canonicals,
        "problems": r.problems,
        "retired": r.retired,
        "seconds": round(r.seconds, 3),
    }


def history_json(h: HistoryAnswer) -> dict[str, Any]:
    return {
        "recipe": h.recipe,
        "runs": [
            {
                "run_id": r.run_id,
                "kind": r.kind.value,
                "version": r.version,
                "status": r.status.value,
                "unverified": r.unverified,
                "finished": iso(r.finished),
                "verdict": verdict_json(r.verdict),
                "started_by": r.started_by,
            }
            for r in h.runs
        ],
    }


def help_json(h: HelpAnswer) -> dict[str, Any]:
    return {"prefix": h.prefix, "commands": [asdict(c) for c in h.commands]}


def status_json(s: StatusAnswer) -> dict[str, Any]:
    return {
        **vars(s),
        "started_at": iso(s.started_at),
        "last_sync": iso(s.last_sync),
        "next_report": iso(s.next_report),
        "reruns": [asdict(r) for r in s.reruns],
    }


def notice_json(n: NoticeAnswer) -> dict[str, Any]:
    return {"text": n.text, "ok": n.ok}


def rerun_queued_json(q: RerunQueued) -> dict[str, Any]:
    return asdict(q)


def cancel_json(c: CancelAnswer) -> dict[str, Any]:
    return asdict(c)


def knowledge_changed_json(k: KnowledgeChanged) -> dict[str, Any]:
    return {
        "action": k.action.value,
        "recipe": k.recipe,
        "by": k.by,
        "failure": k.shape or None,
        "url": k.url,
        "note": k.note,
        "category": k.category,
        "until": iso(k.until),
        "removed": k.removed,
        "replaced": k.replaced,
    }


def known_json(a: KnownAnswer) -> dict[str, Any]:
    return {
        "issues": [
            {
                "url": i.url,
                "note": i.note,
                "recipes": i.recipes,
                "hits": i.hits,
                "first_seen": iso(i.first_seen),
                "last_seen": iso(i.last_seen),
                "still_failing": i.still_failing,
                "by": i.by,
                "since": iso(i.since),
                "hits_per_week": list(i.weekly),
            }
            for i in a.issues
        ],
        "muted": [
            {"recipe": m.recipe, "until": iso(m.until), "reason": m.reason, "by": m.by, "applies": m.applies}
            for m in a.muted
        ],
    }


def _rate(x: float | None) -> float | None:
    return round(x, 4) if x is not None else None


def calibration_json(a: CalibrationAnswer) -> dict[str, Any]:
    return {
        "n": a.n,
        "accuracy": _rate(a.accuracy),
        "brier": _rate(a.brier),
        "by_source": [
            {"rule": s.rule, "n": s.n, "accuracy": _rate(s.accuracy), "mean_confidence": _rate(s.mean_confidence)}
            for s in a.by_source
        ],
        "without_rules": a.without_rules,
    }
