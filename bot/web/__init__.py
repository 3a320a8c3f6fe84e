"""The evidence pages: run artifacts served over HTTP, paged, confined to their run and with secrets masked."""
