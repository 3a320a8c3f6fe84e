"""Matrix transport: the nio connection (the only nio importer) and its protocol-neutral events."""
