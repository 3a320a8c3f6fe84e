"""The answers built from the store: `why` (:mod:`bot.answers.why`), `summary`
(:mod:`bot.answers.summary`), and the did-you-mean for names nobody knows (:mod:`bot.answers.suggest`)."""
