"""The one cattrs converter every model goes through, in both directions.

- Unknown JSON keys are ignored (the API grows fields faster than any SDK).
- ``None`` fields are left out of request bodies, so a model serialises to exactly the JSON a
  user would write by hand.
- Datetimes parse to aware ``datetime`` (naive values are taken as UTC).
- `OpenEnum` subclasses keep unknown values.
- The item union is tagged on ``type``; an unknown tag becomes `UnknownItem` with the raw data.
"""

from __future__ import annotations

import sys
import types
import typing
from datetime import datetime, timezone
from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_unstructure_fn, override

from ._models.common import OpenEnum
from ._models.instructions import ITEM_TYPES, Item, UnknownItem
from ._models.responses import AnswerValue

__all__ = ["converter", "parse_datetime"]

# Error detail is our own (one readable line per bad body), so cattrs' detailed validation,
# which wraps every field in its own try/except, buys nothing and costs a third of parsing.
converter = cattrs.Converter(detailed_validation=False)


def _is_optional(cls: Any) -> bool:
    args = typing.get_args(cls)
    return (typing.get_origin(cls) in (typing.Union, types.UnionType) and len(args) == 2
            and type(None) in args)


def _optional_hook(cls: Any) -> Any:
    """``X | None`` fields are most of every model: check for None, then call X's hook
    directly, instead of cattrs' generic union path."""
    inner_type = next(arg for arg in typing.get_args(cls) if arg is not type(None))
    inner = converter.get_structure_hook(inner_type)

    def structure_optional(value: Any, _: Any) -> Any:
        return None if value is None else inner(value, inner_type)

    return structure_optional


converter.register_structure_hook_factory(_is_optional, _optional_hook)


#: Python 3.11's fromisoformat reads "Z" and any number of fraction digits; 3.10's does not.
_FAST_ISO = sys.version_info >= (3, 11)


def parse_datetime(value: Any) -> datetime:
    """An aware datetime from an ISO-8601 string (naive values are taken as UTC)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value) if _FAST_ISO else _parse_iso(value)
        except ValueError:
            parsed = _parse_iso(value)
    else:
        raise TypeError(f"expected an ISO-8601 datetime string, got {value!r}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _parse_iso(value: str) -> datetime:
    """The slow path: a "Z" suffix, odd fraction lengths, surrounding spaces."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    head, dot, tail = text.partition(".")
    if dot:
        digits = len(tail) - len(tail.lstrip("0123456789"))
        frac, rest = tail[:digits], tail[digits:]
        text = f"{head}.{(frac + '000000')[:6]}{rest}"
    return datetime.fromisoformat(text)


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
