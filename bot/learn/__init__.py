"""Teaching the knowledge base from chat or the CLI (`learn`): propose a signature, check it, write it.

:mod:`bot.learn.propose` checks a pattern against the recipe's current failure, every green run
(:mod:`bot.learn.greens`) and the other reds; :mod:`bot.learn.write` writes an accepted one as a YAML
file into the first of ``knowledge.dirs``. :class:`bot.service.Service` reloads the knowledge base
and decides every red again.
"""
