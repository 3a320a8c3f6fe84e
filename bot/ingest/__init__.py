"""Ingest: scanning the runs dir into the store (:mod:`bot.ingest.scan`), telling sweeps, isolation
reruns and PR runs apart from their times (:mod:`bot.ingest.sweeps`), and the scan's worker processes
(:mod:`bot.ingest.workers`)."""
