"""`to_json` and `from_json`: the SDK's models as the JSON the API speaks, both ways.

They are the converter every request and answer goes through, made public: the command line,
plan files and a user's own storage read and write models exactly as the API does.
"""

from __future__ import annotations

from typing import Any, TypeVar, overload

import attrs

from ._converter import converter, structure_fn
from ._errors import truncate
from ._models.common import model_keys
from ._models.instructions import ITEM_TYPES, Item, UnknownItem

__all__ = ["from_json", "to_json"]

T = TypeVar("T")


def to_json(value: Any) -> Any:
    """A model (or a list or dict of models) as plain JSON data, as the API would send it:
    ``None`` fields left out, enums as their values, datetimes in ISO-8601, items tagged with
    their ``type``, and ``extra`` fields merged in.

    Example::

        json.dumps(pa.to_json(pa.one_page([pa.FreeText(description="Why?")])))
    """
    return converter.unstructure(value)


@overload
def from_json(model: type[T], data: Any) -> T: ...


@overload
def from_json(model: Any, data: Any) -> Any: ...


def from_json(model: Any, data: Any) -> Any:
    """Read JSON ``data`` as ``model`` (a model class, ``list[...]``, `pa.Item` ...), checking
    the documented rules; anything that does not fit is a `ValueError` saying why.

    An item of a known type that breaks a rule is refused here, where an answer from the
    server keeps it as an `UnknownItem` rather than fail the whole answer.

    Example::

        items = pa.from_json(list[pa.Item], json.load(open("instructions.json")))
    """
    try:
        value = structure_fn(model)(data)
    except Exception as exc:
        raise ValueError(_why(model, data, exc)) from exc
    _refuse_rule_breaks(value)
    return value


def _why(model: Any, data: Any, exc: Exception) -> str:
    """One line saying what did not fit: a missing field, and keys that look like typos."""
    cls = model
    if model is Item and isinstance(data, dict):
        cls = ITEM_TYPES.get(data.get("type", ""), model)
    name = "item" if cls is Item else getattr(cls, "__name__", None) or str(cls)
    reason = (f"missing required field {exc.args[0]!r}" if isinstance(exc, KeyError)
              else truncate(str(exc), 300))
    if isinstance(data, dict) and isinstance(cls, type) and attrs.has(cls):
        unknown = sorted(set(data) - model_keys(cls) - {"type"})
        if unknown:
            reason += f" (fields it does not have: {', '.join(map(repr, unknown))})"
    return f"not a valid {name}: {reason}"


def _refuse_rule_breaks(value: Any) -> None:
    items = value if isinstance(value, list) else [value]
    for index, item in enumerate(items):
        if isinstance(item, UnknownItem) and item.type in ITEM_TYPES:
            fields = {k: v for k, v in item.data.items() if k != "type"}
            where = f"item {index} ({item.type})" if isinstance(value, list) else item.type
            try:
                converter.structure(fields, ITEM_TYPES[item.type])
            except Exception as exc:
                raise ValueError(f"{where}: {truncate(str(exc), 300)}") from exc
