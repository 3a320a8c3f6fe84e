"""Verdicts as the answers serve them: the stored one while the rules that decided it are current,
otherwise decided again and stored (a read-through cache).

A verdict decided under another knowledge base (or engine revision) is decided again on the spot
from the facts (:mod:`bot.verdicts.facts`), so a changed knowledge base never serves an old verdict as new.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.config import Config
from bot.kb import KbFiles, KnowledgeBase
from bot.links import link
from bot.model.records import EvidenceItem, Verdict
from bot.store import Store
from bot.store.status_run import status_run

if TYPE_CHECKING:
    from bot.probes.runner import ProbeRunner
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
    ``search``: how a stale test is told (default: ``git grep`` in the recipe's clone). The probes
    (``probes.enabled``) live as long as this object, and so does their cache. ``kb`` may be the
    knowledge base's files as read (:func:`bot.kb.read_kb`): they are parsed on the first decision,
    since telling a stored verdict current needs only their version."""

    def __init__(
        self, store: Store, config: Config, kb: KnowledgeBase | KbFiles, search: RecipeSearch | None = None
    ) -> None:
        self.store = store
        self.config = config
        self._kb = kb
        self._kb_lock = threading.Lock()  # worker threads decide concurrently: parse once
        self.search = search  # None: git in the recipe's clone (staletest.GitRecipeSearch), made when deciding
        self._probes: ProbeRunner | None = None
        self._probes_made = False
        self._probes_lock = threading.Lock()  # worker threads decide concurrently: one runner, one cache

    @property
    def kb(self) -> KnowledgeBase:
        """The knowledge base the verdicts are decided by (``learn`` sets a reloaded one)."""
        with self._kb_lock:
            if isinstance(self._kb, KbFiles):
                self._kb = self._kb.load()
            return self._kb

    @kb.setter
    def kb(self, kb: KnowledgeBase) -> None:
        with self._kb_lock:
            self._kb = kb

    @property
    def kb_version(self) -> str:
        """The knowledge base's version, without parsing it."""
        return self._kb.version

    def for_run(self, recipe: str, run_id: str) -> tuple[Verdict, list[EvidenceItem]] | None:
        stored = self.store.verdicts.get(run_id)
        if stored is not None and stored.kb_version == self.kb_version:
            return stored.verdict, list(stored.evidence)
        target = status_run(self.store.runs, recipe)
        if target is None or target.run_id != run_id:  # history: keep what was decided then
            return (stored.verdict, list(stored.evidence)) if stored is not None else None
        classified = classify_recipe(self.store, self.config, self.kb, self.search, recipe, probes=self.probes())
        return (classified.verdict, classified.evidence) if classified is not None else None

    def decide_again(self, recipes: list[str] | None = None) -> list[Classified]:
        return classify_all(self.store, self.config, self.kb, self.search, recipes, self.probes())

    def probes(self) -> ProbeRunner | None:
        """The configured probes, made on first use (an answer from stored verdicts never makes them)."""
        with self._probes_lock:
            if not self._probes_made:
                from bot.probes.runner import configured  # here: deciding needs them, serving does not

                self._probes = configured(self.config.probes)
                self._probes_made = True
            return self._probes


def classify_recipe(
    store: Store,
    config: Config,
    kb: KnowledgeBase,
    search: RecipeSearch | None,
    recipe: str,
    log_hits: list[SignatureHit] | None = None,
    shared_cache: dict[str, list[SharedCause]] | None = None,
    probes: ProbeRunner | None = None,
) -> Classified | None:
    """Decide and store the verdict of a recipe's current red run; None when it is not red."""
    # here, not at the top: an answer served from stored verdicts needs neither the facts nor the engine
    from bot.verdicts.engine import decide
    from bot.verdicts.facts import gather
    from bot.verdicts.staletest import GitRecipeSearch

    facts = gather(store, config, kb, search or GitRecipeSearch(), recipe, log_hits, shared_cache, probes)
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
    store.verdicts.save(facts.target.run_id, recipe, verdict, kb.version, evidence)
    return Classified(recipe, facts.target.run_id, verdict, evidence)


def classify_all(
    store: Store,
    config: Config,
    kb: KnowledgeBase,
    search: RecipeSearch | None,
    recipes: list[str] | None = None,
    probes: ProbeRunner | None = None,
) -> list[Classified]:
    """(Re)classify the given recipes (default: all) with the current rules."""
    from bot.verdicts.facts import prescan_logs  # here: as in classify_recipe

    names = recipes if recipes is not None else store.runs.recipes()
    scanned = prescan_logs(store, config, kb, names)
    shared: dict[str, list[SharedCause]] = {}
    out: list[Classified] = []
    for recipe in names:
        classified = classify_recipe(store, config, kb, search, recipe, scanned.get(recipe), shared, probes)
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
