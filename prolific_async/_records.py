"""Export-archive JSON into typed records: one function per kind of line, and one per answer
shape.

These run once per line of files that may hold millions of lines, so they are written for
speed (``benchmarks/archive.py`` holds them within 2x of a bare ``json.loads`` loop): plain
``type(x) is str`` checks instead of the converter's generic machinery, no helper call per
field. An answer that does not fit its documented shape is kept whole as `UnknownValue`; a
line that is not a record at all raises `BadRecord` with a short reason.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, Literal

from ._converter import parse_datetime
from ._models.instructions import InstructionType
from ._models.responses import (
    ExplainedChoice,
    ExportInfo,
    ExportInstruction,
    FileUploadValue,
    FreeTextValue,
    FreeTextWithUnitValue,
    MultipleChoiceValue,
    MultipleChoiceWithFreeTextValue,
    ResponseValue,
    SubmissionRecord,
    TaskRecord,
    TaskSubmission,
    UnknownValue,
    UploadedFile,
)

__all__ = ["BadRecord", "export_info", "submission_record", "task_record", "value"]

_fromisoformat = datetime.fromisoformat


class BadRecord(ValueError):
    """A line that is not the record its file holds (the reason is the message)."""


def _free_text(data: dict[str, Any]) -> ResponseValue | None:
    text, description = data.get("value"), data.get("description")
    if type(text) is str and (description is None or type(description) is str):
        return FreeTextValue(text, description)
    return None


def _free_text_with_unit(data: dict[str, Any]) -> ResponseValue | None:
    text, unit, description = data.get("value"), data.get("unit"), data.get("description")
    if type(text) is str and type(unit) is str and (
            description is None or type(description) is str):
        return FreeTextWithUnitValue(text, unit, description)
    return None


def _multiple_choice(data: dict[str, Any]) -> ResponseValue | None:
    values, description = data.get("values"), data.get("description")
    if type(values) is not list or not (description is None or type(description) is str):
        return None
    for option in values:  # a loop: three times faster than all() over a generator here
        if type(option) is not str:
            return None
    return MultipleChoiceValue(values, description)


def _multiple_choice_with_free_text(data: dict[str, Any]) -> ResponseValue | None:
    values, description = data.get("values"), data.get("description")
    if type(values) is not list or not (description is None or type(description) is str):
        return None
    picks = []
    for pick in values:
        if type(pick) is not dict:
            return None
        option, explanation = pick.get("option"), pick.get("explanation")
        if type(option) is not str or type(explanation) is not str:
            return None
        picks.append(ExplainedChoice(option, explanation))
    return MultipleChoiceWithFreeTextValue(picks, description)


def _file_upload(data: dict[str, Any]) -> ResponseValue | None:
    files, description = data.get("files"), data.get("description")
    if type(files) is not list or not (description is None or type(description) is str):
        return None
    uploaded = []
    for file in files:
        if type(file) is not dict:
            return None
        name, path = file.get("name"), file.get("path")
        if type(name) is not str or type(path) is not str:
            return None
        uploaded.append(UploadedFile(name, path))
    return FileUploadValue(uploaded, description)


#: The documented shapes ("Response value shapes" in Prolific's "Exporting Batch Data").
_SHAPES: dict[str, Callable[[dict[str, Any]], ResponseValue | None]] = {
    "free_text": _free_text,
    "free_text_with_unit": _free_text_with_unit,
    "multiple_choice": _multiple_choice,
    "multiple_choice_with_free_text": _multiple_choice_with_free_text,
    "file_upload": _file_upload,
}


def value(data: Any) -> ResponseValue:
    """One answer; anything but a documented shape is kept whole as `UnknownValue`."""
    if type(data) is dict:
        kind = data.get("type")
        shape = _SHAPES.get(kind) if type(kind) is str else None
        typed = shape(data) if shape is not None else None
        if typed is not None:
            return typed
    return _unknown(data)


def _unknown(data: Any) -> UnknownValue:
    if type(data) is not dict:
        return UnknownValue(type=InstructionType(""), data={"value": data})
    kind, description = data.get("type"), data.get("description")
    return UnknownValue(type=InstructionType(kind if type(kind) is str else ""), data=data,
                        description=description if type(description) is str else None)


def _answers(answers: dict[str, Any]) -> dict[str, ResponseValue]:
    """Answers by instruction id: `value` inlined, as this is the innermost loop of a read."""
    typed: dict[str, ResponseValue] = {}
    for instruction_id, data in answers.items():
        kind = data.get("type") if type(data) is dict else None
        shape = _SHAPES.get(kind) if type(kind) is str else None
        found = shape(data) if shape is not None else None
        typed[instruction_id] = found if found is not None else _unknown(data)
    return typed


#: Python 3.11's fromisoformat reads a "Z" suffix; 3.10's needs "+00:00".
_READS_Z = sys.version_info >= (3, 11)


def _when(text: Any) -> datetime | None:
    if type(text) is str:
        # The exports' own form ("2026-03-19T10:30:00Z") straight through fromisoformat: on
        # 3.10 the converter's general parser would cost a quarter of a record.
        try:
            parsed = _fromisoformat(text if _READS_Z or text[-1:] != "Z"
                                    else text[:-1] + "+00:00")
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)
    if text is None:
        return None
    try:
        return parse_datetime(text)
    except (TypeError, ValueError) as exc:
        raise BadRecord(f"created_at is not an ISO-8601 datetime: {text!r}") from exc


def _id(data: Any, key: str) -> str:
    if type(data) is not dict:
        raise BadRecord(f"expected a JSON object, got {type(data).__name__}")
    found = data.get(key)
    if type(found) is not str or not found:
        raise BadRecord(f"no {key}")
    return found


def submission_record(data: Any) -> SubmissionRecord:
    """A line of ``responses-by-submission.jsonl`` (or a collection's ``responses.jsonl``)."""
    submission_id = data.get("submission_id") if type(data) is dict else None
    if type(submission_id) is not str or not submission_id:
        submission_id = _id(data, "submission_id")  # raises, naming what is wrong
    responses = data.get("responses")
    if responses is None:
        responses = {}
    elif type(responses) is not dict:
        raise BadRecord("responses is not a JSON object")
    by_task: dict[str, dict[str, ResponseValue]] = {}
    for key, answers in responses.items():
        if type(answers) is dict and "type" not in answers:
            by_task[key] = _answers(answers)
        else:
            # Answers given by instruction directly (no task level): a collection has no tasks.
            by_task.setdefault("", {})[key] = value(answers)
    participant, batch, collection = (
        data.get("participant_id"), data.get("batch_id"), data.get("collection_id"))
    return SubmissionRecord(  # positional: see the note in _models/responses.py
        submission_id, participant if type(participant) is str else None,
        batch if type(batch) is str else None, collection if type(collection) is str else None,
        _when(data.get("created_at")), by_task)


_SUBMISSION_FIELDS = frozenset({"submission_id", "participant_id", "created_at"})


def task_record(data: Any) -> TaskRecord:
    """A line of ``responses-by-task.jsonl``."""
    task_id = _id(data, "task_id")
    entries = data.get("responses")
    if entries is None:
        entries = []
    elif type(entries) is not list:
        raise BadRecord("responses is not a JSON array")
    submissions = []
    for entry in entries:
        submission_id = _id(entry, "submission_id")
        participant = entry.get("participant_id")
        submissions.append(TaskSubmission(
            submission_id, participant if type(participant) is str else None,
            _when(entry.get("created_at")),
            # Answers sit beside the submission's own fields, keyed by instruction id.
            _answers({key: answer for key, answer in entry.items()
                      if type(answer) is dict and key not in _SUBMISSION_FIELDS})))
    batch = data.get("batch_id")
    return TaskRecord(task_id, batch if type(batch) is str else None, submissions)


def export_info(kind: Literal["batch", "collection"], data: Any) -> ExportInfo:
    """``batch.json`` or ``collection.json``."""
    if type(data) is not dict:
        raise BadRecord("not a JSON object")
    instructions: dict[str, ExportInstruction] = {}
    listed = data.get("instructions")
    for entry in listed if type(listed) is list else []:
        if type(entry) is dict and type(entry.get("id")) is str:
            of_type, description = entry.get("type"), entry.get("description")
            instructions[entry["id"]] = ExportInstruction(
                id=entry["id"], type=InstructionType(of_type if type(of_type) is str else ""),
                description=description if type(description) is str else None)
    try:
        exported_at = _when(data.get("exported_at"))
    except BadRecord:
        raise BadRecord(f"exported_at is not an ISO-8601 datetime: "
                        f"{data.get('exported_at')!r}") from None
    owner_id = data.get(f"{kind}_id", data.get("id"))
    name = data.get("name")
    return ExportInfo(kind=kind, id=owner_id if type(owner_id) is str else None,
                      name=name if type(name) is str else None, exported_at=exported_at,
                      instructions=instructions)
