"""Evidence links, built from ``links.base_url`` (``{run_id}`` and ``{path}`` placeholders)."""

from __future__ import annotations

from urllib.parse import quote


def link(base_url: str | None, run_id: str | None, path: str = "", line: int | None = None) -> str | None:
    """URL of a file of a run, with a ``#L<line>`` anchor when a line is known; None without a base."""
    if not base_url or run_id is None:
        return None
    url = base_url.format(run_id=quote(run_id, safe=""), path=quote(path, safe="/"))
    return f"{url}#L{line}" if line else url
