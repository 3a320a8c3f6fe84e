"""The domain objects: what a cc-ci run is once read from disk (:mod:`bot.model.records`), what the bot
answers about it (:mod:`bot.model.answers`) and what it reports to the room (:mod:`bot.model.reports`)."""
