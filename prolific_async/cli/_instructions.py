"""``prolific-async instructions …``: a batch's questions (deprecated by Prolific in favour of
``batch_items``, still documented and used)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

import prolific_async as pa

from ._context import App, json_option, pass_app
from ._errors import INPUT, CommandError

__all__ = ["instructions", "read_instructions"]

_TYPES: dict[str, type[Any]] = {cls.TYPE: cls for cls in (
    pa.MultipleChoice, pa.MultipleChoiceWithFreeText, pa.FreeText, pa.FreeTextWithUnit,
    pa.FileUpload)}


@click.group()
def instructions() -> None:
    """The questions participants answer for each task of a batch."""


@instructions.command()
@click.argument("batch_id")
@json_option
@pass_app
def get(app: App, batch_id: str) -> None:
    """List a batch's instructions."""

    async def work(client: pa.Prolific) -> list[pa.Item]:
        return await client.instructions.get(batch_id)

    items = app.run(work)
    if app.output.as_json:
        app.output.json(items)
        return
    app.output.table(("id", "type", "description"), (
        (getattr(i, "id", None), i.type if isinstance(i, pa.UnknownItem) else type(i).TYPE,
         getattr(i, "description", None)) for i in items),
        empty=f"batch {batch_id} has no instructions")


@instructions.command()
@click.argument("batch_id")
@click.argument("file", type=click.Path(path_type=Path))
@json_option
@pass_app
def create(app: App, batch_id: str, file: Path) -> None:
    """Add instructions to a batch that is not set up yet, from a JSON file.

    The file holds the documented request body, ``{"instructions": [...]}``, or just the
    list; each instruction has a ``type`` (multiple_choice, free_text,
    multiple_choice_with_free_text, free_text_with_unit, file_upload).
    """
    questions = read_instructions(file)

    async def work(client: pa.Prolific) -> list[pa.Item]:
        return await client.instructions.create(batch_id, questions)

    items = app.run(work)
    if app.output.as_json:
        app.output.json(items)
    else:
        app.output.note(f"added {len(items)} instructions to batch {batch_id}")
        for item in items:
            app.output.line(str(getattr(item, "id", "")))


def read_instructions(path: Path) -> list[pa.Instruction]:
    """Instruction models from a JSON file in the documented shape."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CommandError(f"{path}: not valid JSON: {exc}", INPUT) from None
    rows = data.get("instructions") if isinstance(data, dict) else data
    if not isinstance(rows, list) or not rows:
        raise CommandError(f"{path}: expected {{\"instructions\": [...]}} or a non-empty list",
                           INPUT)
    return [_instruction(path, index, row) for index, row in enumerate(rows)]


def _instruction(path: Path, index: int, row: Any) -> pa.Instruction:
    where = f"{path}: instruction {index}"
    if not isinstance(row, dict):
        raise CommandError(f"{where}: expected an object, got {row!r}", INPUT)
    if row.get("type") not in _TYPES:
        raise CommandError(f"{where}: type must be one of {', '.join(_TYPES)}, "
                           f"got {row.get('type')!r}", INPUT)
    try:
        item: pa.Instruction = pa.from_json(pa.Item, row)
    except ValueError as exc:
        raise CommandError(f"{where}: {exc}", INPUT) from None
    return item
