"""The domain objects: what a cc-ci run is once read from disk (:mod:`bot.model.records`), what the bot
answers about it (:mod:`bot.model.answers`), what it reports to the room (:mod:`bot.model.reports`), and
the states a rerun moves through (:mod:`bot.model.reruns`)."""
