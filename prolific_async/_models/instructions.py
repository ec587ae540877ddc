"""Instructions (questions asked of participants) and content blocks.

The five instruction types and the content blocks form one tagged union on ``type``:
`Item`. The same classes serve batch pages (``batch_items``, the current way), collection
pages (``collection_items``) and the deprecated ``/instructions`` endpoints; fields a context
does not use stay ``None`` and are left out of the JSON sent. Documented rules (options given,
``answer_limit`` within the options, ...) are checked at construction, so a bad item fails
here with a clear ``ValueError`` instead of after a round trip.

Example::

    pa.MultipleChoice(
        description="Which response is more accurate?",
        options=[pa.Option(label="A", value="a"), pa.Option(label="B", value="b")],
        answer_limit=1,
    )
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

import attrs

from .common import OpenEnum, extra_field

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
    """The ``type`` of a question (an instruction), as in `TaskResponse.response.type`."""

    MULTIPLE_CHOICE = "multiple_choice"
    FREE_TEXT = "free_text"
    MULTIPLE_CHOICE_WITH_FREE_TEXT = "multiple_choice_with_free_text"
    FREE_TEXT_WITH_UNIT = "free_text_with_unit"
    FILE_UPLOAD = "file_upload"


class ContentFormat(OpenEnum):
    """How a `RichText` block's ``content`` is written."""

    HTML = "html"
    MARKDOWN = "markdown"


def _refuse(owner: object, message: str) -> None:
    raise ValueError(f"{type(owner).__name__}: {message}")


@attrs.frozen(kw_only=True)
class Validation:
    """Bounds on an answer: its length for ``type="string"``, its value for ``type="number"``.

    Example::

        pa.FreeText(description="Why?", validation=pa.Validation(type="string", min=10, max=500))
    """

    type: str
    min: float | None = None
    max: float | None = None
    extra: Mapping[str, Any] = extra_field()

    def __attrs_post_init__(self) -> None:
        if self.min is not None and self.max is not None and self.min > self.max:
            _refuse(self, f"min ({self.min}) is above max ({self.max})")


@attrs.frozen(kw_only=True)
class Option:
    """One choice of a `MultipleChoice` or `MultipleChoiceWithFreeText` question.

    ``value`` is what the answer records: a string, number or boolean, kept as that JSON type
    both ways (a layout read and sent back sends ``true``, not ``"True"``); ``heading`` groups
    options (and names the free-text box of `MultipleChoiceWithFreeText`); an ``exclusive``
    option cannot be combined with others.

    Example::

        pa.Option(label="None of these", value="none", exclusive=True)
        pa.Option(label="Yes", value=True)
    """

    label: str
    value: str | int | float | bool
    heading: str | None = None
    exclusive: bool | None = None
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class UnitOption:
    """One unit of a `FreeTextWithUnit` question, with its own bounds.

    Example::

        pa.UnitOption(label="°C", value="celsius",
                      validation=pa.Validation(type="number", min=30, max=45))
    """

    label: str
    value: str
    validation: Validation | None = None
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class _ItemBase:
    """Fields the server adds or that place an item on a page; all optional."""

    TYPE: ClassVar[str]

    id: str | None = None
    order: int | None = None
    batch_id: str | None = None
    created_by: str | None = None
    created_at: datetime | None = None
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class _InstructionBase(_ItemBase):
    """A question: its ``description`` (required, non-empty) and optional ``helper_text``."""

    description: str
    helper_text: str | None = None

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.description, str) or not self.description \
                or self.description.isspace():
            _refuse(self, f"description is required, got {self.description!r}")


@attrs.frozen(kw_only=True)
class _ChoiceBase(_InstructionBase):
    """Options to pick from, at most ``answer_limit`` of them (``-1``: any number)."""

    options: list[Option]
    answer_limit: int | None = None

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        if not self.options:
            _refuse(self, "options must not be empty")
        limit = self.answer_limit
        if limit is not None and limit != -1 and not 1 <= limit <= len(self.options):
            _refuse(self, f"answer_limit {limit} is not between 1 and the number of options "
                          f"({len(self.options)}), nor -1 (any number)")


@attrs.frozen(kw_only=True)
class MultipleChoice(_ChoiceBase):
    """Pick up to ``answer_limit`` of the ``options`` (``1``: single choice, ``-1``: any).

    Example::

        pa.MultipleChoice(
            description="Which response is more accurate?", answer_limit=1,
            options=[pa.Option(label="Response 1", value="r1"),
                     pa.Option(label="Response 2", value="r2")],
        )
    """

    TYPE: ClassVar[str] = "multiple_choice"


@attrs.frozen(kw_only=True)
class MultipleChoiceWithFreeText(_ChoiceBase):
    """Pick options, then explain each under the option's ``heading``.

    Example::

        pa.MultipleChoiceWithFreeText(
            description="Rate the accuracy and explain.", answer_limit=-1,
            options=[pa.Option(label="Good", value="good", heading="Accuracy"),
                     pa.Option(label="Poor", value="poor", heading="Accuracy")],
        )
    """

    TYPE: ClassVar[str] = "multiple_choice_with_free_text"


@attrs.frozen(kw_only=True)
class FreeText(_InstructionBase):
    """An open text answer, optionally with a placeholder and length bounds.

    Example::

        pa.FreeText(description="Why did you choose it?",
                    placeholder_text_input="I chose it because...")
    """

    TYPE: ClassVar[str] = "free_text"
    placeholder_text_input: str | None = None
    validation: Validation | None = None


@attrs.frozen(kw_only=True)
class FreeTextWithUnit(_InstructionBase):
    """A value with a unit picked from ``unit_options`` (``unit_position``: ``prefix`` or
    ``suffix``); ``default_unit`` is the ``value`` of one of them.

    Example::

        pa.FreeTextWithUnit(
            description="Body temperature?", default_unit="celsius", unit_position="suffix",
            unit_options=[pa.UnitOption(label="°C", value="celsius"),
                          pa.UnitOption(label="°F", value="fahrenheit")],
        )
    """

    TYPE: ClassVar[str] = "free_text_with_unit"
    unit_options: list[UnitOption]
    default_unit: str | None = None
    unit_position: str | None = None
    placeholder_text_input: str | None = None
    validation: Validation | None = None

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        if not self.unit_options:
            _refuse(self, "unit_options must not be empty")
        values = [unit.value for unit in self.unit_options]
        if self.default_unit is not None and self.default_unit not in values:
            _refuse(self, f"default_unit {self.default_unit!r} is not one of the unit "
                          f"options' values {values}")


@attrs.frozen(kw_only=True)
class FileUpload(_InstructionBase):
    """Participants upload files (``accepted_file_types`` like ``".jpg"``, sizes in MB).

    Example::

        pa.FileUpload(description="Upload a photo", accepted_file_types=[".jpg", ".png"],
                      max_file_size_mb=10, min_file_count=1, max_file_count=3)
    """

    TYPE: ClassVar[str] = "file_upload"
    accepted_file_types: list[str] | None = None
    max_file_size_mb: float | None = None
    min_file_count: int | None = None
    max_file_count: int | None = None

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        low, high = self.min_file_count, self.max_file_count
        if (low is not None and low < 0) or (high is not None and high < 1):
            _refuse(self, f"file counts must be min >= 0 and max >= 1, got {low} and {high}")
        if low is not None and high is not None and low > high:
            _refuse(self, f"min_file_count ({low}) is above max_file_count ({high})")
        if self.max_file_size_mb is not None and self.max_file_size_mb <= 0:
            _refuse(self, f"max_file_size_mb must be positive, got {self.max_file_size_mb}")


@attrs.frozen(kw_only=True)
class RichText(_ItemBase):
    """A content block of HTML or Markdown text (no answer).

    Example::

        pa.RichText(content="**Read both answers first.**",
                    content_format=pa.ContentFormat.MARKDOWN)
    """

    TYPE: ClassVar[str] = "rich_text"
    content: str
    content_format: ContentFormat | None = None


@attrs.frozen(kw_only=True)
class Image(_ItemBase):
    """A content block showing an image (no answer).

    Example::

        pa.Image(url="https://example.com/chart.png", alt_text="Sales chart")
    """

    TYPE: ClassVar[str] = "image"
    url: str
    alt_text: str | None = None
    caption: str | None = None


@attrs.frozen(kw_only=True)
class DatasetField(_ItemBase):
    """Shows the value of one field of the task's datapoint (V4 datasets).

    Example::

        pa.DatasetField(field="prompt")
    """

    TYPE: ClassVar[str] = "dataset_field"
    field: str


@attrs.frozen(kw_only=True)
class UnknownItem:
    """An item whose ``type`` this version does not know, or that breaks a rule it checks;
    ``data`` is the raw JSON, kept whole and sent back unchanged.

    Example::

        pa.UnknownItem(type="video", data={"type": "video", "url": "https://..."})
    """

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
