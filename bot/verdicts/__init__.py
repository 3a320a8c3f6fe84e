"""Root-cause verdicts: a pure engine, the knowledge base it consults, and the I/O that feeds it."""
