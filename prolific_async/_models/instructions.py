"""Instructions (questions asked of participants) and content blocks.

The five instruction types and the content blocks form one tagged union on ``type``:
`Item`. The same classes serve the deprecated ``/instructions`` endpoints, batch pages
(``batch_items``) and collection pages (``collection_items``); fields a context does not use
stay ``None`` and are left out of the JSON sent.

Example::

    pa.MultipleChoice(
        description="Which response is more accurate?",
        options=[pa.Option(label="A", value="a"), pa.Option(label="B", value="b")],
        answer_limit=1,
    )
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import attrs

from .common import OpenEnum

__all__ = [
    "ContentFormat",
    "DatasetField",
    "FileUpload",
    "FreeText",
    "FreeTextWithUnit",
    "Image",
    "Instruction",
    "InstructionType",
    "Item",
    "ITEM_TYPES",
    "MultipleChoice",
    "MultipleChoiceWithFreeText",
    "Option",
    "RichText",
    "UnitOption",
    "UnknownItem",
    "Validation",
]


class InstructionType(OpenEnum):
    MULTIPLE_CHOICE = "multiple_choice"
    FREE_TEXT = "free_text"
    MULTIPLE_CHOICE_WITH_FREE_TEXT = "multiple_choice_with_free_text"
    FREE_TEXT_WITH_UNIT = "free_text_with_unit"
    FILE_UPLOAD = "file_upload"


class ContentFormat(OpenEnum):
    HTML = "html"
    MARKDOWN = "markdown"


@attrs.frozen(kw_only=True)
class Validation:
    """Bounds on an answer: string length for ``type="string"``, value for ``type="number"``."""

    type: str
    min: float | None = None
    max: float | None = None


@attrs.frozen(kw_only=True)
class Option:
    label: str
    value: str
    heading: str | None = None
    exclusive: bool | None = None


@attrs.frozen(kw_only=True)
class UnitOption:
    label: str
    value: str
    validation: Validation | None = None


@attrs.frozen(kw_only=True)
class _ItemBase:
    """Fields the server adds or that place an item on a page; all optional."""

    TYPE: ClassVar[str]

    id: str | None = None
    order: int | None = None
    batch_id: str | None = None
    created_by: str | None = None
    created_at: datetime | None = None


@attrs.frozen(kw_only=True)
class _InstructionBase(_ItemBase):
    description: str
    helper_text: str | None = None


@attrs.frozen(kw_only=True)
class MultipleChoice(_InstructionBase):
    """Pick up to ``answer_limit`` options (``-1``: any number)."""

    TYPE: ClassVar[str] = "multiple_choice"
    options: list[Option]
    answer_limit: int | None = None


@attrs.frozen(kw_only=True)
class MultipleChoiceWithFreeText(_InstructionBase):
    """Pick an option, then explain it under the option's ``heading``."""

    TYPE: ClassVar[str] = "multiple_choice_with_free_text"
    options: list[Option]
    answer_limit: int | None = None


@attrs.frozen(kw_only=True)
class FreeText(_InstructionBase):
    TYPE: ClassVar[str] = "free_text"
    placeholder_text_input: str | None = None
    validation: Validation | None = None


@attrs.frozen(kw_only=True)
class FreeTextWithUnit(_InstructionBase):
    """A value with a unit picked from ``unit_options`` (``unit_position``: prefix or suffix)."""

    TYPE: ClassVar[str] = "free_text_with_unit"
    unit_options: list[UnitOption]
    default_unit: str | None = None
    unit_position: str | None = None
    placeholder_text_input: str | None = None
    validation: Validation | None = None


@attrs.frozen(kw_only=True)
class FileUpload(_InstructionBase):
    TYPE: ClassVar[str] = "file_upload"
    accepted_file_types: list[str] | None = None
    max_file_size_mb: float | None = None
    min_file_count: int | None = None
    max_file_count: int | None = None


@attrs.frozen(kw_only=True)
class RichText(_ItemBase):
    """A content block of HTML or Markdown text."""

    TYPE: ClassVar[str] = "rich_text"
    content: str
    content_format: ContentFormat | None = None


@attrs.frozen(kw_only=True)
class Image(_ItemBase):
    TYPE: ClassVar[str] = "image"
    url: str
    alt_text: str | None = None
    caption: str | None = None


@attrs.frozen(kw_only=True)
class DatasetField(_ItemBase):
    """Shows the value of one field of the task's datapoint (V4 datasets)."""

    TYPE: ClassVar[str] = "dataset_field"
    field: str


@attrs.frozen(kw_only=True)
class UnknownItem:
    """An item whose ``type`` this version does not know; ``data`` is the raw JSON, kept whole."""

    type: str
    data: dict[str, Any]


Instruction = (
    MultipleChoice | MultipleChoiceWithFreeText | FreeText | FreeTextWithUnit | FileUpload
)
Item = (
    MultipleChoice | MultipleChoiceWithFreeText | FreeText | FreeTextWithUnit | FileUpload
    | RichText | Image | DatasetField | UnknownItem
)

#: ``type`` tag → class, for every known item.
ITEM_TYPES: dict[str, type[Any]] = {
    cls.TYPE: cls
    for cls in (
        MultipleChoice, MultipleChoiceWithFreeText, FreeText, FreeTextWithUnit, FileUpload,
        RichText, Image, DatasetField,
    )
}
