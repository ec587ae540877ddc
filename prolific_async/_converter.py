"""The one cattrs converter every model goes through, in both directions.

- Unknown JSON keys are ignored (the API grows fields faster than any SDK).
- ``None`` fields are left out of request bodies, so a model serialises to exactly the JSON a
  user would write by hand.
- Datetimes parse to aware ``datetime`` (naive values are taken as UTC).
- `OpenEnum` subclasses keep unknown values.
- The item union is tagged on ``type``; an unknown tag becomes `UnknownItem` with the raw data.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_unstructure_fn, override

from .models.common import OpenEnum
from .models.instructions import ITEM_TYPES, Item, UnknownItem
from .models.responses import AnswerValue

__all__ = ["converter", "parse_datetime"]

converter = cattrs.Converter()


def parse_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        # Python 3.10's fromisoformat does not take "Z" nor fractions that are not 3 or 6 digits.
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        head, dot, tail = text.partition(".")
        if dot:
            digits = len(tail) - len(tail.lstrip("0123456789"))
            frac, rest = tail[:digits], tail[digits:]
            text = f"{head}.{(frac + '000000')[:6]}{rest}"
        parsed = datetime.fromisoformat(text)
    else:
        raise TypeError(f"expected an ISO-8601 datetime string, got {value!r}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _unstructure_datetime(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


converter.register_structure_hook(datetime, lambda value, _: parse_datetime(value))


# OpenEnum is a str subclass; without these (singledispatch, so more specific than ``str``)
# hooks cattrs would pass members through as they are.
converter.register_structure_hook(OpenEnum, lambda value, cls: cls(value))
converter.register_unstructure_hook(OpenEnum, lambda member: member.value)
converter.register_unstructure_hook(datetime, _unstructure_datetime)


def _structure_answer_value(value: Any, _: Any) -> Any:
    if isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"an answer value must be a string, number or boolean, got {value!r}")


def _is_answer_value(cls: Any) -> bool:
    return cls in (AnswerValue, AnswerValue | None)


converter.register_structure_hook_func(_is_answer_value, _structure_answer_value)


def _omit_none_unstructure(cls: type[Any]) -> Any:
    # Only fields whose default is None are left out when unset: a real default is sent.
    overrides: dict[str, Any] = {a.name: override(omit_if_default=True)
                                 for a in attrs.fields(cls) if a.default is None}
    base = make_dict_unstructure_fn(cls, converter, **overrides)
    tag = getattr(cls, "TYPE", None)
    if tag is None:
        return base

    def unstructure_tagged(obj: Any) -> dict[str, Any]:
        return {"type": tag, **base(obj)}

    return unstructure_tagged


converter.register_unstructure_hook_factory(
    lambda cls: attrs.has(cls) and cls is not UnknownItem, _omit_none_unstructure
)


def _structure_item(data: Any, _: Any) -> Any:
    if not isinstance(data, dict):
        raise TypeError(f"an item must be a JSON object, got {data!r}")
    cls = ITEM_TYPES.get(data.get("type", ""))
    if cls is None:
        return UnknownItem(type=str(data.get("type")), data=data)
    return converter.structure(data, cls)


def _unstructure_item(item: Any) -> Any:
    if isinstance(item, UnknownItem):
        return dict(item.data)
    return converter.unstructure(item, type(item))


converter.register_structure_hook(Item, _structure_item)
converter.register_unstructure_hook(Item, _unstructure_item)
converter.register_unstructure_hook(UnknownItem, lambda item: dict(item.data))
