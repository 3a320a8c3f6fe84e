"""Matrix transport: the nio connection (this package is the only nio importer) and its protocol-neutral events."""
