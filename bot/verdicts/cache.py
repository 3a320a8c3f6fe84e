"""Verdicts as the answers serve them: the stored one while the rules that decided it are current.

A verdict decided under another knowledge base (or engine revision) is decided again on the spot
(:mod:`bot.verdicts.facts`), so a changed knowledge base never serves an old verdict as new.
"""

from __future__ import annotations

from bot.config import Config
from bot.kb import KnowledgeBase
from bot.model.records import EvidenceItem, Verdict
from bot.store import Store
from bot.store.status_run import status_run
from bot.verdicts.facts import Classified, classify_all, classify_recipe
from bot.verdicts.staletest import GitRecipeSearch, RecipeSearch


class Verdicts:
    """Verdicts as the answers need them: stored ones when the rules that made them are current,
    otherwise decided again now. ``search``: how a stale test is told (default: ``git grep`` in the
    recipe's clone)."""

    def __init__(self, store: Store, config: Config, kb: KnowledgeBase, search: RecipeSearch | None = None) -> None:
        self.store = store
        self.config = config
        self.kb = kb
        self.search = search or GitRecipeSearch()

    def for_run(self, recipe: str, run_id: str) -> tuple[Verdict, list[EvidenceItem]] | None:
        stored = self.store.verdict(run_id)
        if stored is not None and stored[1] == self.kb.version:
            return stored[0], stored[2]
        target = status_run(self.store, recipe)
        if target is None or target.run_id != run_id:
            return (stored[0], stored[2]) if stored is not None else None  # history: keep what was decided then
        classified = classify_recipe(self.store, self.config, self.kb, self.search, recipe)
        return (classified.verdict, classified.evidence) if classified is not None else None

    def decide_again(self, recipes: list[str] | None = None) -> list[Classified]:
        return classify_all(self.store, self.config, self.kb, self.search, recipes)
