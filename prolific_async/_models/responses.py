"""What participants answered: API task responses, export-archive records, and one typed value
per answer shape that both share.

The API (``GET …/responses``) gives each answer as a list of loose items (`Answer`); an export
archive gives it in one documented shape per instruction type. Both become the same
`ResponseValue`, so code that reads answers works on either source::

    match response.value:                    # a TaskResponse, or a value from an archive record
        case pa.FreeTextValue(value=text) | pa.FreeTextWithUnitValue(value=text):
            print(text)
        case pa.MultipleChoiceValue(values=chosen):
            print(chosen)
        case pa.MultipleChoiceWithFreeTextValue(values=picks):
            print([(p.option, p.explanation) for p in picks])
        case pa.FileUploadValue(files=files):
            print([f.path or f.key for f in files])
        case pa.UnknownValue(type=kind, data=data):  # a shape this version does not know
            print(kind, data)

The values and the archive records are slotted attrs classes like every model, but neither
frozen nor keyword-only: reading an export builds millions of them, and a frozen class's
``__init__`` costs twice as much, keyword matching another half again; together they are what
holds record reading within 2x of bare ``json.loads`` (``benchmarks/archive.py``). They are
data read from a file, never sent to the API.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, ClassVar, Literal

import attrs

from .instructions import InstructionType

__all__ = [
    "Answer",
    "AnswerValue",
    "ExplainedChoice",
    "ExportInfo",
    "ExportInstruction",
    "FileUploadValue",
    "FreeTextValue",
    "FreeTextWithUnitValue",
    "MultipleChoiceValue",
    "MultipleChoiceWithFreeTextValue",
    "ResponseBody",
    "ResponseValue",
    "SubmissionRecord",
    "TaskRecord",
    "TaskResponse",
    "TaskSubmission",
    "UnknownValue",
    "UploadedFile",
]

AnswerValue = str | int | float | bool


# -- one typed value per answer shape ----------------------------------------------------------


@attrs.define
class FreeTextValue:
    """A ``free_text`` answer. ``description`` is the instruction's text (archives carry it)."""

    type: ClassVar[InstructionType] = InstructionType.FREE_TEXT
    value: str
    description: str | None = None


@attrs.define
class FreeTextWithUnitValue:
    """A ``free_text_with_unit`` answer: the text typed and the unit picked."""

    type: ClassVar[InstructionType] = InstructionType.FREE_TEXT_WITH_UNIT
    value: str
    unit: str
    description: str | None = None


@attrs.define
class MultipleChoiceValue:
    """A ``multiple_choice`` answer: the option values chosen."""

    type: ClassVar[InstructionType] = InstructionType.MULTIPLE_CHOICE
    values: list[str]
    description: str | None = None


@attrs.define
class ExplainedChoice:
    """One option of a ``multiple_choice_with_free_text`` answer and the text that explains it."""

    option: str
    explanation: str


@attrs.define
class MultipleChoiceWithFreeTextValue:
    """A ``multiple_choice_with_free_text`` answer: each option chosen with its explanation."""

    type: ClassVar[InstructionType] = InstructionType.MULTIPLE_CHOICE_WITH_FREE_TEXT
    values: list[ExplainedChoice]
    description: str | None = None


@attrs.define
class UploadedFile:
    """A file a participant uploaded.

    In an export archive ``path`` names the file inside it (``files/…``; open it with
    `ExportArchive.open`); the API gives a storage ``key``, ``size_mb`` and ``content_type``
    instead.
    """

    name: str
    path: str | None = None
    key: str | None = None
    size_mb: float | None = None
    content_type: str | None = None


@attrs.define
class FileUploadValue:
    """A ``file_upload`` answer: the files uploaded."""

    type: ClassVar[InstructionType] = InstructionType.FILE_UPLOAD
    files: list[UploadedFile]
    description: str | None = None


@attrs.define
class UnknownValue:
    """An answer whose shape this version does not know (a new instruction type, or a known
    type with fields it does not expect): kept whole in ``data``, never dropped."""

    type: InstructionType
    data: dict[str, Any]
    description: str | None = None


#: One answer's value, one class per instruction type, the same from the API
#: (`TaskResponse.value`) and from an export archive; ``match`` on it.
ResponseValue = (
    FreeTextValue | FreeTextWithUnitValue | MultipleChoiceValue
    | MultipleChoiceWithFreeTextValue | FileUploadValue | UnknownValue
)


# -- the API's form: GET …/batches/{id}/responses ----------------------------------------------


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
    """What one participant answered to one instruction of one task."""

    instruction_id: str
    type: InstructionType
    answer: list[Answer]

    @property
    def value(self) -> ResponseValue:
        """The answer as its typed value (`UnknownValue` when its items do not fit the type)."""
        answers = self.answer
        kind = self.type
        if kind == InstructionType.FREE_TEXT and len(answers) == 1 and _has_value(answers[0]):
            return FreeTextValue(value=_text(answers[0].value))
        if kind == InstructionType.FREE_TEXT_WITH_UNIT and len(answers) == 1 \
                and _has_value(answers[0]) and answers[0].unit is not None:
            return FreeTextWithUnitValue(value=_text(answers[0].value), unit=answers[0].unit)
        if kind == InstructionType.MULTIPLE_CHOICE and all(map(_has_value, answers)):
            return MultipleChoiceValue(values=[_text(a.value) for a in answers])
        if kind == InstructionType.MULTIPLE_CHOICE_WITH_FREE_TEXT and all(
                _has_value(a) and a.explanation is not None for a in answers):
            return MultipleChoiceWithFreeTextValue(values=[
                ExplainedChoice(option=_text(a.value), explanation=str(a.explanation))
                for a in answers])
        if kind == InstructionType.FILE_UPLOAD and all(a.file_name is not None for a in answers):
            return FileUploadValue(files=[
                UploadedFile(name=str(a.file_name), key=a.file_key, size_mb=a.file_size_mb,
                             content_type=a.content_type)
                for a in answers])
        return UnknownValue(type=kind, data={
            "answer": [attrs.asdict(a, filter=lambda _, v: v is not None) for a in answers]})


def _has_value(answer: Answer) -> bool:
    return answer.value is not None


def _text(value: AnswerValue | None) -> str:
    # The API allows numbers and booleans as answer values; they read as their JSON text, as
    # they would in an archive or a CSV report.
    return value if isinstance(value, str) else json.dumps(value)


@attrs.frozen(kw_only=True)
class TaskResponse:
    """One answer to one instruction of one task, as ``batches.responses`` yields it.

    ``no_submission`` marks a response recorded without a submission (for example a
    participant who returned the study); exports leave these out. ``value`` is the answer as
    a typed `ResponseValue`::

        async for r in client.batches.responses(batch_id):
            if not r.no_submission:
                print(r.participant_id, r.response.instruction_id, r.value)
    """

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
    no_submission: bool = False

    @property
    def value(self) -> ResponseValue:
        return self.response.value


# -- the export archive's form ----------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ExportInstruction:
    """One instruction listed in ``batch.json`` / ``collection.json``."""

    id: str
    type: InstructionType
    description: str | None = None


@attrs.frozen(kw_only=True)
class ExportInfo:
    """``batch.json`` (or ``collection.json``): what was exported, and the instructions by id.

    ``kind`` is ``"batch"`` or ``"collection"`` and ``id`` the batch's or collection's id.
    """

    kind: Literal["batch", "collection"]
    id: str | None
    name: str | None = None
    exported_at: datetime | None = None
    instructions: dict[str, ExportInstruction] = attrs.Factory(dict)


@attrs.define
class SubmissionRecord:
    """One line of ``responses-by-submission.jsonl`` (a collection's ``responses.jsonl``):
    one participant's submission with every answer, ``responses[task_id][instruction_id]``.

    A collection has no tasks; if its records give answers by instruction directly, they sit
    under the task id ``""``.
    """

    submission_id: str
    participant_id: str | None = None
    batch_id: str | None = None
    collection_id: str | None = None
    created_at: datetime | None = None
    responses: dict[str, dict[str, ResponseValue]] = attrs.Factory(dict)


@attrs.define
class TaskSubmission:
    """One submission's answers to the task of a `TaskRecord`, by instruction id."""

    submission_id: str
    participant_id: str | None = None
    created_at: datetime | None = None
    responses: dict[str, ResponseValue] = attrs.Factory(dict)


@attrs.define
class TaskRecord:
    """One line of ``responses-by-task.jsonl``: one task and every submission's answers to it."""

    task_id: str
    batch_id: str | None = None
    responses: list[TaskSubmission] = attrs.Factory(list)
