"""Matrix message contents: m.notice replies (or thread replies), reactions, and the size limit."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from bot.matrix.events import ChatMessage

# Matrix caps a whole event at 65,536 bytes; signatures and envelope need room too.
MAX_CONTENT_BYTES = 60_000
ACK_REACTION = "👀"


def _relation(to: ChatMessage) -> dict[str, Any]:
    if to.thread_root:
        return {
            "rel_type": "m.thread",
            "event_id": to.thread_root,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": to.event_id},
        }
    return {"m.in_reply_to": {"event_id": to.event_id}}


def _size(content: dict[str, Any]) -> int:
    return len(json.dumps(content, ensure_ascii=False).encode("utf-8"))


def notice(body: str, html: str, to: ChatMessage | None = None, more_url: str | None = None) -> dict[str, Any]:
    """An m.notice with plain and HTML bodies, replying to (or in the thread of) ``to``.

    Too big for one event: the plain text is cut to fit, the HTML becomes that text in a <pre>, and a
    last line says where the full evidence is.
    """
    content: dict[str, Any] = {
        "msgtype": "m.notice",
        "body": body,
        "format": "org.matrix.custom.html",
        "formatted_body": html,
    }
    if to is not None:
        content["m.relates_to"] = _relation(to)
    if _size(content) <= MAX_CONTENT_BYTES:
        return content
    where = (
        f"full evidence: {more_url}"
        if more_url
        else "full evidence: run the same question with `ccci-bot` on the CI host"
    )
    link = f'<a href="{escape(more_url, quote=True)}">full evidence</a>' if more_url else escape(where)
    budget = MAX_CONTENT_BYTES // 2  # body and formatted_body each carry the text once
    while True:  # escaping and JSON quoting grow the text by an amount known only after trying
        cut = body.encode("utf-8")[:budget].decode("utf-8", "ignore")
        cut = cut[: cut.rfind("\n")] if "\n" in cut else cut
        omitted = len(body) - len(cut)
        content["body"] = f"{cut}\n… ({omitted} more characters cut; {where})"
        content["formatted_body"] = (
            f"<pre><code>{escape(cut)}</code></pre><p>… ({omitted} more characters cut; {link})</p>"
        )
        if _size(content) <= MAX_CONTENT_BYTES or budget < 1000:
            return content
        budget = budget * 3 // 4


def edit(event_id: str, body: str, html: str, more_url: str | None = None) -> dict[str, Any]:
    """An m.replace edit of an earlier notice (clients show the new text in place).

    The new content is cut to fit like any notice; the fallback body for clients without edits is
    only its first line, so the event stays under the size limit.
    """
    new = notice(body, html, more_url=more_url)
    first = new["body"].split("\n", 1)[0]
    return {
        "msgtype": "m.notice",
        "body": f"* {first}",
        "m.new_content": new,
        "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
    }


def thread_reply(root_event_id: str, body: str, html: str) -> dict[str, Any]:
    """A notice in the thread of ``root_event_id`` (falling back to a reply for clients without threads)."""
    to = ChatMessage(root_event_id, "", "", "", "m.notice", 0, thread_root=root_event_id)
    return notice(body, html, to)


def in_thread_of(content: dict[str, Any], reply_ref: str, to: ChatMessage) -> dict[str, Any]:
    """``content`` (a notice without relation) as the one message in the thread of the reply
    ``reply_ref`` (an event id, or a ``txn:`` reference the outbox fills in). A command asked inside a
    thread was answered in it, and a thread cannot start from an event in a thread: there the details
    follow in the same thread, as a reply to the short answer."""
    root = to.thread_root or reply_ref
    return {
        **content,
        "m.relates_to": {
            "rel_type": "m.thread",
            "event_id": root,
            "is_falling_back": to.thread_root is None,
            "m.in_reply_to": {"event_id": reply_ref},
        },
    }


def reaction(to: ChatMessage, key: str = ACK_REACTION) -> dict[str, Any]:
    return {"m.relates_to": {"rel_type": "m.annotation", "event_id": to.event_id, "key": key}}
