"""Verdicts as the answers serve them: the stored one while the rules that decided it are current,
otherwise decided again and stored (a read-through cache).

Deciding — the facts (:mod:`bot.verdicts.facts`: the log scan, the search of the recipe's git) and
the engine — is imported when a verdict has to be decided: an answer from a store whose verdicts are
current, as after the bot's own pass, never loads them (a CLI answer's start is mostly imports).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.config import Config
from bot.kb import KnowledgeBase
from bot.links import link
from bot.model.records import EvidenceItem, Verdict
from bot.store import Store
from bot.store.status_run import status_run

if TYPE_CHECKING:
    from bot.verdicts.records import SharedCause, SignatureHit
    from bot.verdicts.staletest import RecipeSearch


@dataclass(frozen=True)
class Classified:
    """A recipe's current red run and the verdict just decided and stored for it."""

    recipe: str
    run_id: str
    verdict: Verdict
    evidence: list[EvidenceItem]


class Verdicts:
    """Verdicts as the answers need them: stored ones when the rules that made them are current,
    otherwise decided again now (so a changed knowledge base never serves an old verdict as new).
    ``search``: how a stale test is told (default: ``git grep`` in the recipe's clone)."""

    def __init__(self, store: Store, config: Config, kb: KnowledgeBase, search: RecipeSearch | None = None) -> None:
        self.store = store
        self.config = config
        self.kb = kb
        self.search = search

    def for_run(self, recipe: str, run_id: str) -> tuple[Verdict, list[EvidenceItem]] | None:
        stored = self.store.verdict(run_id)
        if stored is not None and stored[1] == self.kb.version:
            return stored[0], stored[2]
        target = status_run(self.store, recipe)
        if target is None or target.run_id != run_id:
            return (stored[0], stored[2]) if stored is not None else None  # history: keep what was decided then
        classified = classify_recipe(self.store, self.config, self.kb, self._search(), recipe)
        return (classified.verdict, classified.evidence) if classified is not None else None

    def decide_again(self, recipes: list[str] | None = None) -> list[Classified]:
        return classify_all(self.store, self.config, self.kb, self._search(), recipes)

    def _search(self) -> RecipeSearch:
        from bot.verdicts.staletest import GitRecipeSearch

        self.search = self.search or GitRecipeSearch()
        return self.search


def classify_recipe(
    store: Store,
    config: Config,
    kb: KnowledgeBase,
    search: RecipeSearch,
    recipe: str,
    log_hits: list[SignatureHit] | None = None,
    shared_cache: dict[str, list[SharedCause]] | None = None,
) -> Classified | None:
    """Decide and store the verdict of a recipe's current red run; None when it is not red."""
    from bot.verdicts.engine import decide
    from bot.verdicts.facts import gather

    facts = gather(store, config, kb, search, recipe, log_hits, shared_cache)
    if facts is None:
        return None
    decision = decide(facts)
    if decision is None:
        return None
    verdict = Verdict(
        decision.category,
        round(decision.confidence, 3),
        decision.reason,
        kb.version,
        decision.settle,
        decision.rule,
        decision.strength,
    )
    evidence = _with_links(config, decision.evidence)
    store.save_verdict(facts.target.run_id, recipe, verdict, kb.version, evidence)
    return Classified(recipe, facts.target.run_id, verdict, evidence)


def classify_all(
    store: Store, config: Config, kb: KnowledgeBase, search: RecipeSearch, recipes: list[str] | None = None
) -> list[Classified]:
    """(Re)classify the given recipes (default: all) with the current rules."""
    from bot.verdicts.facts import prescan_logs

    names = recipes if recipes is not None else store.recipes()
    scanned = prescan_logs(store, config, kb, names)
    shared: dict[str, list[SharedCause]] = {}
    out: list[Classified] = []
    for recipe in names:
        classified = classify_recipe(store, config, kb, search, recipe, scanned.get(recipe), shared)
        if classified is not None:
            out.append(classified)
    return out


def _with_links(config: Config, items: list[EvidenceItem]) -> list[EvidenceItem]:
    return [
        e
        if e.url or e.run_id is None
        else EvidenceItem(e.kind, e.run_id, e.path, e.line, e.excerpt, link(config.link_base, e.run_id, e.path, e.line))
        for e in items
    ]
