"""Verdicts as the answers serve them: the stored one while the rules that decided it are current.

Deciding again (the facts, the log scan, the search of the recipe's git) is :mod:`bot.verdicts.facts`,
imported when a verdict has to be decided: an answer from a store whose verdicts are current, as
after the bot's own pass, never loads the engine (a CLI answer's start is mostly imports).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.config import Config
from bot.kb import KnowledgeBase
from bot.model.records import EvidenceItem, Verdict
from bot.store import Store
from bot.store.status_run import status_run

if TYPE_CHECKING:
    from bot.verdicts.facts import Classified
    from bot.verdicts.staletest import RecipeSearch


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
        from bot.verdicts.facts import classify_recipe

        classified = classify_recipe(self.store, self.config, self.kb, self._search(), recipe)
        return (classified.verdict, classified.evidence) if classified is not None else None

    def decide_again(self, recipes: list[str] | None = None) -> list[Classified]:
        from bot.verdicts.facts import classify_all

        return classify_all(self.store, self.config, self.kb, self._search(), recipes)

    def _search(self) -> RecipeSearch:
        from bot.verdicts.staletest import GitRecipeSearch

        self.search = self.search or GitRecipeSearch()
        return self.search
