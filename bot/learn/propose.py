"""Checking a pattern before it is taught: valid for RE2, matches the recipe's current failure, matches
no green run, and which other current reds it would weigh on.

The current failure is the failing testcases of the recipe's status run (:mod:`bot.store.status_run`),
matched as a knowledge-base ``failure`` matcher matches: against each failure's message and text.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace

from bot.answers.suggest import UnknownNameError, closest
from bot.artifacts.layout import Layout, run_dir_of
from bot.config import Config
from bot.kb import KnowledgeBase
from bot.learn.greens import check_greens
from bot.linear_regex import LinearPattern, PatternRefused, compile_signature
from bot.model.learn import LearnProposal, LearnRequest, OtherRed, Refusal
from bot.model.records import Failure, RunStatus
from bot.store import Store
from bot.store.status_run import status_run, status_runs

EXAMPLE_CHARS = 2000  # a longer failure text is kept as the lines around the match
EXCERPT_CHARS = 200
_SLUG = re.compile(r"[^a-z0-9-]+")


def signature_id(request: LearnRequest) -> str:
    """``learned-<recipe>-<hash>``: the same recipe, category and pattern always give the same id (and file)."""
    digest = hashlib.sha256(f"{request.recipe}\0{request.category}\0{request.pattern}".encode()).hexdigest()[:10]
    slug = _SLUG.sub("-", request.recipe).strip("-")[:40] or "recipe"
    return f"learned-{slug}-{digest}"


def failure_text(f: Failure) -> str:
    """What a ``failure`` matcher is matched against (as :mod:`bot.verdicts.facts` does)."""
    return f"{f.message}\n{f.text}"


def propose(store: Store, config: Config, kb: KnowledgeBase, request: LearnRequest) -> LearnProposal:
    """Every check in order; the first that fails is the refusal. Raises :class:`UnknownNameError` for
    a recipe never seen."""
    sid = signature_id(request)
    compiled = compile_signature(request.pattern)
    if isinstance(compiled, PatternRefused):
        refusal = Refusal.INVALID if compiled.invalid else Refusal.UNSUPPORTED
        return LearnProposal(request, sid, refusal=refusal, reason=compiled.reason)
    if compiled.search("") is not None:
        return LearnProposal(
            request, sid, refusal=Refusal.TOO_BROAD, reason="it matches the empty text, so it matches every run"
        )
    target = status_run(store.runs, request.recipe)
    if target is None:
        raise UnknownNameError("recipe", request.recipe, closest(request.recipe, store.runs.recipes()))
    if target.status is not RunStatus.RED:
        return LearnProposal(
            request,
            sid,
            run_id=target.run_id,
            refusal=Refusal.NOT_RED,
            reason=f"{request.recipe} is {target.status.value} now (run {target.run_id}): no failure to learn from",
        )
    failures = store.results.failures(target.run_id)
    if not failures:
        return LearnProposal(
            request,
            sid,
            run_id=target.run_id,
            refusal=Refusal.NO_FAILURE,
            reason=f"run {target.run_id} is red without a failing testcase (see `why`): nothing to match",
        )
    matched = next(((f, m) for f in failures if (m := compiled.search(failure_text(f))) is not None), None)
    if matched is None:
        shown = "; ".join(f"{f.tier}/{f.test}: {f.message[:120]}" for f in failures[:3])
        return LearnProposal(
            request,
            sid,
            run_id=target.run_id,
            refusal=Refusal.NO_MATCH,
            reason=f"it does not match the current failure of {request.recipe} (run {target.run_id}: {shown})",
        )
    failure, match = matched
    base = LearnProposal(
        request,
        sid,
        run_id=target.run_id,
        failure=f"{failure.tier}/{failure.test}",
        excerpt=str(match.group(0))[:EXCERPT_CHARS],
        example=_example(failure_text(failure), compiled),
        others=_other_reds(store, request.recipe, compiled),
    )
    if any(s.id == sid for s in kb.signatures):
        return _refused(base, Refusal.ALREADY_KNOWN, f"it is in the knowledge base already, as {sid}")
    green = ((r, name, str(run_dir_of(config.ccci, r, d))) for r, name, d in store.runs.green_runs())
    greens = check_greens(green, Layout.of(config.ccci), compiled)
    base = replace(base, greens=greens)
    if greens.matched:
        first = greens.hits[0]
        return _refused(
            base,
            Refusal.MATCHES_GREEN,
            f"it matches {greens.matched} green run(s) of {greens.checked}, e.g. {first.recipe}'s run {first.run_id}"
            f" ({first.path}: {first.excerpt[:120]}); a signature must not match a successful run",
        )
    if not config.knowledge.dirs:
        return _refused(base, Refusal.NO_DIRECTORY, "knowledge.dirs is empty in the config: nowhere to write it")
    return base


def _other_reds(store: Store, recipe: str, pattern: LinearPattern) -> list[OtherRed]:
    found: list[OtherRed] = []
    for other, run in sorted(status_runs(store.runs).items()):
        if other == recipe or run.status is not RunStatus.RED:
            continue
        failure = next((f for f in store.results.failures(run.run_id) if pattern.search(failure_text(f))), None)
        if failure is not None:
            stored = store.verdicts.get(run.run_id)
            found.append(
                OtherRed(other, run.run_id, f"{failure.tier}/{failure.test}", stored.verdict if stored else None)
            )
    return found


def _example(text: str, pattern: LinearPattern) -> str:
    """The failure text as the must-match example; a long one cut to the lines around the match (if the
    cut still matches: an anchored pattern may need the whole text)."""
    if len(text) <= EXAMPLE_CHARS:
        return text
    match = pattern.search(text)
    if match is not None:
        start = text.rfind("\n", 0, max(0, match.start() - EXAMPLE_CHARS // 4)) + 1
        end = text.find("\n", min(len(text), match.end() + EXAMPLE_CHARS // 4))
        cut = text[start : end if end >= 0 else len(text)]
        if len(cut) <= EXAMPLE_CHARS * 2 and pattern.search(cut) is not None:
            return cut
    return text


def _refused(p: LearnProposal, refusal: Refusal, reason: str) -> LearnProposal:
    return replace(p, refusal=refusal, reason=reason)
