"""What the operators know and teach, as the service's async face: links, verdicts and mutes given by hand
(:mod:`bot.memory.acts`; ``acts.Refused`` when one cannot be done as asked), how the bot's verdicts fare
against them, and ``learn`` (a new signature for the knowledge base)."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace

from bot.answers.suggest import UnknownNameError, closest
from bot.config import Config
from bot.kb import load_kb
from bot.kb.watch import KnowledgeWatch
from bot.masking import Masker
from bot.memory import acts
from bot.memory.calibration import calibration
from bot.model.answers import CalibrationAnswer, KnowledgeChanged, KnownAnswer, RecipeVerdict
from bot.model.knowledge import AuditEntry
from bot.model.learn import LearnAnswer, LearnRequest, Refusal, TaughtSignature
from bot.model.records import Category
from bot.store import Store
from bot.verdicts.cache import Verdicts


class Knowledge:
    """The operators' memory and teaching: every change here is theirs, with who and when."""

    def __init__(self, store: Store, config: Config, masker: Masker, verdicts: Verdicts, watch: KnowledgeWatch) -> None:
        self.store = store
        self.config = config
        self.masker = masker
        self.verdicts = verdicts  # `learn` hands it the reloaded knowledge base
        self.watch = watch
        self._teaching = threading.Lock()  # one `learn` (or reload) writes and reloads at a time

    def take_up_changes(self) -> None:
        """A knowledge base changed beside the bot (`learn --apply` on the CLI, a hand edit) is taken up as
        `learn` does it: reloaded, every red decided again (a file that no longer loads keeps the previous
        one: bot.kb.watch). Run by each poll, in its worker thread; one ``stat`` per file when nothing moved."""
        if not self.watch.moved():
            return
        with self._teaching:
            kb = self.watch.reload(self.verdicts.kb)
            if kb is not None:
                self.verdicts.kb = kb
                self.verdicts.decide_again()

    def _known_recipe(self, recipe: str) -> None:
        if not self.store.runs.last_runs(recipe, 1):
            raise UnknownNameError("recipe", recipe, closest(recipe, self.store.runs.recipes()))

    async def link(self, recipe: str, url: str, note: str, by: str) -> KnowledgeChanged:
        await asyncio.to_thread(self._known_recipe, recipe)
        return await asyncio.to_thread(acts.link, self.store, self.masker, recipe, url, note, by, time.time())

    async def unlink(self, recipe: str, url: str | None, by: str) -> KnowledgeChanged:
        return await asyncio.to_thread(acts.unlink, self.store, recipe, url, by, time.time())

    async def set_verdict(self, recipe: str, category: Category, reason: str, by: str) -> KnowledgeChanged:
        await asyncio.to_thread(self._known_recipe, recipe)
        return await asyncio.to_thread(acts.verdict, self.store, self.masker, recipe, category, reason, by, time.time())

    async def mute(self, recipe: str, until: float, reason: str, by: str) -> KnowledgeChanged:
        await asyncio.to_thread(self._known_recipe, recipe)
        return await asyncio.to_thread(acts.mute, self.store, self.masker, recipe, until, reason, by, time.time())

    async def unmute(self, recipe: str, by: str) -> KnowledgeChanged:
        return await asyncio.to_thread(acts.unmute, self.store, recipe, by, time.time())

    async def known(self) -> KnownAnswer:
        return await asyncio.to_thread(acts.known, self.store, time.time())

    async def calibration(self) -> CalibrationAnswer:
        return await asyncio.to_thread(calibration, self.store, self.verdicts)

    async def trail(self, recipe: str, limit: int = 100) -> list[AuditEntry]:
        """Who changed what the operators know about a recipe, newest first (the recipe page's history)."""
        return await asyncio.to_thread(self.store.knowledge.audit, recipe, limit)

    async def learn(self, request: LearnRequest, by: str, apply: bool) -> LearnAnswer:
        """Check a pattern for the knowledge base; with ``apply`` (a 👍, ``--apply``) and every check
        passed, write it, reload the knowledge base and decide every red again."""
        return await asyncio.to_thread(self._learn, request, by, apply)

    def _learn(self, request: LearnRequest, by: str, apply: bool) -> LearnAnswer:
        from bot.learn.propose import propose  # here: the green-run search, which only `learn` needs
        from bot.learn.write import write

        if not apply:
            proposal = propose(self.store, self.config, self.verdicts.kb, request)
            return LearnAnswer(proposal, confirmable=proposal.acceptable)
        with self._teaching:
            proposal = propose(self.store, self.config, self.verdicts.kb, request)  # again: the history may have moved
            if not proposal.acceptable:
                return LearnAnswer(proposal)
            at = time.time()
            directory = self.config.knowledge.dirs[0]
            try:
                path = write(directory, proposal, by, at)
            except OSError as exc:
                reason = f"the knowledge directory cannot be written ({exc.strerror or exc})"
                return LearnAnswer(replace(proposal, refusal=Refusal.NO_DIRECTORY, reason=reason))
            kb = load_kb(self.config.knowledge.dirs)
            if not any(s.id == proposal.signature_id for s in kb.signatures):  # another file's id won: undo
                path.unlink(missing_ok=True)
                raise RuntimeError(f"{path.name} did not load: {'; '.join(kb.problems) or 'its id is taken'}")
            self.verdicts.kb = kb
            done = self.verdicts.decide_again()
        verdicts = [RecipeVerdict(c.recipe, c.run_id, c.verdict) for c in done]
        return LearnAnswer(proposal, TaughtSignature(path.name, by, at, kb.version, verdicts))
