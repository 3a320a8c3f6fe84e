"""The only place that formats answers: one answer object becomes text, JSON or Matrix HTML."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.model.answers import (
    CalibrationAnswer,
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
from bot.render.html import HTML, why_brief_html, why_html

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
    | CalibrationAnswer
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
    CalibrationAnswer: text.calibration_text,
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
    CalibrationAnswer: jsonview.calibration_json,
}


def to_text(answer: AnswerT) -> str:
    return _TEXT[type(answer)](answer)


def to_json(answer: AnswerT) -> dict[str, Any]:
    return _JSON[type(answer)](answer)


def to_html(answer: AnswerT) -> str:
    if isinstance(answer, LearnAnswer):
        return learn.learn_html(answer)
    return HTML[type(answer)](answer)


@dataclass(frozen=True)
class ChatAnswer:
    """An answer as the room gets it: a short message, and the details for its thread (None: all said)."""

    body: str
    html: str
    thread: tuple[str, str] | None = None  # (plain, HTML) of the one message in the reply's thread


def to_chat(answer: AnswerT, prefix: str) -> ChatAnswer:
    """Plain and HTML bodies for the chat. A `why` answer is short in the room
    (:func:`bot.render.text.why_brief`) with the whole answer in the reply's thread; both carry the
    command that would settle an unsure verdict in the room's own syntax (``!ccci rerun outline``).
    Stored reasons, pages and JSON never carry it."""
    if isinstance(answer, WhyAnswer):
        short = (text.why_brief(answer, prefix), why_brief_html(answer, prefix))
        whole = (text.why_text(answer, prefix), why_html(answer, prefix))
        return ChatAnswer(*short, thread=whole if answer.run_id is not None else None)
    if isinstance(answer, LearnAnswer):  # confirmed by a 👍 on the reply, not by --apply
        return ChatAnswer(learn.learn_text(answer, chat=True), learn.learn_html(answer, chat=True))
    return ChatAnswer(to_text(answer), to_html(answer))


def to_brief(answer: AnswerT, command: str = text.CLI_COMMAND) -> str:
    """What the room would get, as plain text (``ccci-bot why --brief``); other answers are short already."""
    return text.why_brief(answer, command) if isinstance(answer, WhyAnswer) else to_text(answer)
