"""Task responses: what participants answered."""

from __future__ import annotations

from datetime import datetime

import attrs

from .instructions import InstructionType

__all__ = ["Answer", "AnswerValue", "ResponseBody", "TaskResponse"]

AnswerValue = str | int | float | bool


@attrs.frozen(kw_only=True)
class Answer:
    """One answer item. Which fields are set depends on the instruction type:
    ``value`` (all but file_upload), ``unit`` (free_text_with_unit), ``explanation``
    (multiple_choice_with_free_text), and the ``file_*`` fields (file_upload)."""

    value: AnswerValue | None = None
    unit: str | None = None
    explanation: str | None = None
    file_key: str | None = None
    file_name: str | None = None
    file_size_mb: float | None = None
    content_type: str | None = None


@attrs.frozen(kw_only=True)
class ResponseBody:
    instruction_id: str
    type: InstructionType
    answer: list[Answer]


@attrs.frozen(kw_only=True)
class TaskResponse:
    id: str
    response: ResponseBody
    batch_id: str | None = None
    participant_id: str | None = None
    task_id: str | None = None
    correlation_id: str | None = None
    submission_id: str | None = None
    metadata: dict[str, str] | None = None
    created_at: datetime | None = None
    schema_version: int | None = None
