"""The only place that formats answers: one answer object becomes text, JSON or Matrix HTML."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.model.answers import (
    CancelAnswer,
    HelpAnswer,
    HistoryAnswer,
    IngestReport,
    KnowledgeChanged,
    KnownAnswer,
    NoticeAnswer,
    ReclassifyAnswer,
    RerunQueued,
    StatusAnswer,
    SummaryAnswer,
    WhyAnswer,
)
from bot.model.learn import LearnAnswer
from bot.render import jsonview, learn, text
from bot.render.html import HTML, why_html

AnswerT = (
    WhyAnswer
    | SummaryAnswer
    | HistoryAnswer
    | HelpAnswer
    | StatusAnswer
    | NoticeAnswer
    | CancelAnswer
    | RerunQueued
    | IngestReport
    | ReclassifyAnswer
    | LearnAnswer
    | KnowledgeChanged
    | KnownAnswer
)

_TEXT: dict[type, Callable[[Any], str]] = {
    WhyAnswer: text.why_text,
    SummaryAnswer: text.summary_text,
    HistoryAnswer: text.history_text,
    HelpAnswer: text.help_text,
    StatusAnswer: text.status_text,
    NoticeAnswer: text.notice_text,
    CancelAnswer: text.cancel_text,
    RerunQueued: text.rerun_queued_text,
    IngestReport: text.ingest_text,
    ReclassifyAnswer: text.reclassify_text,
    LearnAnswer: learn.learn_text,
    KnowledgeChanged: text.knowledge_changed_text,
    KnownAnswer: text.known_text,
}
_JSON: dict[type, Callable[[Any], dict[str, Any]]] = {
    WhyAnswer: jsonview.why_json,
    SummaryAnswer: jsonview.summary_json,
    HistoryAnswer: jsonview.history_json,
    HelpAnswer: jsonview.help_json,
    StatusAnswer: jsonview.status_json,
    NoticeAnswer: jsonview.notice_json,
    CancelAnswer: jsonview.cancel_json,
    RerunQueued: jsonview.rerun_queued_json,
    IngestReport: jsonview.ingest_json,
    ReclassifyAnswer: jsonview.reclassify_json,
    LearnAnswer: learn.learn_json,
    KnowledgeChanged: jsonview.knowledge_changed_json,
    KnownAnswer: jsonview.known_json,
}


def to_text(answer: AnswerT) -> str:
    return _TEXT[type(answer)](answer)


def to_json(answer: AnswerT) -> dict[str, Any]:
    return _JSON[type(answer)](answer)


def to_html(answer: AnswerT) -> str:
    if isinstance(answer, LearnAnswer):
        return learn.learn_html(answer)
    return HTML[type(answer)](answer)


def to_chat(answer: AnswerT, prefix: str) -> tuple[str, str]:
    """Plain and HTML bodies for the chat: as :func:`to_text`/:func:`to_html`, plus the command that
    would settle an unsure verdict in the room's own syntax (``!ccci rerun outline``). Stored reasons,
    pages and JSON never carry it."""
    if isinstance(answer, WhyAnswer):
        return text.why_text(answer, prefix), why_html(answer, prefix)
    if isinstance(answer, LearnAnswer):  # confirmed by a 👍 on the reply, not by --apply
        return learn.learn_text(answer, chat=True), learn.learn_html(answer, chat=True)
    return to_text(answer), to_html(answer)
