"""The only place that formats answers: the same answer object becomes text, JSON (and later HTML)."""

from __future__ import annotations

from typing import Any

from bot.model import SummaryAnswer, WhyAnswer
from bot.render.jsonview import summary_json, why_json
from bot.render.text import summary_text, why_text


def to_text(answer: WhyAnswer | SummaryAnswer) -> str:
    return why_text(answer) if isinstance(answer, WhyAnswer) else summary_text(answer)


def to_json(answer: WhyAnswer | SummaryAnswer) -> dict[str, Any]:
    return why_json(answer) if isinstance(answer, WhyAnswer) else summary_json(answer)
