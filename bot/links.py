"""Evidence links, built from ``links.base_url`` (``{run_id}`` and ``{path}`` placeholders) or, when
that is not set, from ``web.public_url`` (the bot's own pages, which also take ``{line}``)."""

from __future__ import annotations

from urllib.parse import quote


def link(base_url: str | None, run_id: str | None, path: str = "", line: int | None = None) -> str | None:
    """URL of a file of a run, with a ``#L<line>`` anchor when a line is known; None without a base.

    A fragment never reaches the server, so a base with ``{line}`` also gets the line in the query:
    the bot's log page opens on the page holding that line, and the anchor scrolls to it.
    """
    if not base_url or run_id is None:
        return None
    url = base_url.format(run_id=quote(run_id, safe=""), path=quote(path, safe="/"), line=line or "")
    if "{line}" in base_url and not line:
        url = url.split("?", 1)[0] if url.endswith("line=") else url
    return f"{url}#L{line}" if line else url
