"""The one cattrs converter every model goes through, in both directions.

- Unknown JSON keys are ignored by response models; request models (those with an ``extra``
  field) keep them in ``extra``, so a layout read and sent back loses nothing.
- ``None`` fields are left out of request bodies, so a model serialises to exactly the JSON a
  user would write by hand; ``extra`` is merged into the body.
- Datetimes parse to aware ``datetime`` (naive values are taken as UTC).
- `OpenEnum` subclasses keep unknown values.
- The item union is tagged on ``type``; an unknown tag, or a known one breaking a rule the
  model checks, becomes `UnknownItem` with the raw data.

Answers are parsed on every call, so structuring is built for speed: `structure_fn` hands out
the cached hook of a model to call directly, optional fields take a fast path for the common
case, and JSON's own unions (numbers, strings, booleans) pass through unconverted.
"""

from __future__ import annotations

import sys
import typing
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.strategies import configure_union_passthrough

from ._model_hooks import generate, is_open_enum, optional_inner
from ._models.common import OpenEnum, model_keys
from ._models.instructions import ITEM_TYPES, Item, UnknownItem

__all__ = ["converter", "parse_datetime", "structure_fn"]

T = TypeVar("T")

# Error detail is our own (one readable line per bad body), so cattrs' detailed validation,
# which wraps every field in its own try/except, buys nothing and costs a third of parsing.
converter = cattrs.Converter(detailed_validation=False)

# Unions JSON itself produces (an answer's value: string, number or boolean; a weighting: int
# or float) are checked and passed through as they are.
configure_union_passthrough(str | int | float | bool | None, converter)


# -- datetimes -------------------------------------------------------------------------------

#: Python 3.11's fromisoformat reads "Z" and any number of fraction digits; 3.10's does not.
_FAST_ISO = sys.version_info >= (3, 11)


def parse_datetime(value: Any, _: Any = None) -> datetime:
    """An aware datetime from an ISO-8601 string (naive values are taken as UTC).

    The second argument is cattrs' type argument: this is the datetime structure hook itself.
    """
    if value.__class__ is str and _FAST_ISO:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = _parse_iso(value)
    elif isinstance(value, str):
        parsed = _parse_iso(value)
    elif isinstance(value, datetime):
        parsed = value
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


converter.register_structure_hook(datetime, parse_datetime)
converter.register_unstructure_hook(datetime, _unstructure_datetime)


# -- open enums ------------------------------------------------------------------------------


def _open_enum_hook(cls: type[OpenEnum], *, optional: bool = False) -> Any:
    # A dict lookup of the known members; calling the enum (its metaclass's __call__) is
    # several times slower and only needed for a value this version does not know.
    members = cls._value2member_map_

    def structure_open_enum(value: Any, _: Any = None) -> Any:
        member = members.get(value)
        if member is not None:
            return member
        return None if optional and value is None else cls(value)

    return structure_open_enum


converter.register_structure_hook_factory(is_open_enum, _open_enum_hook)
# A plain string is accepted where an enum is expected (users write "DC_TOOL" too).
converter.register_unstructure_hook(
    OpenEnum, lambda member: member.value if isinstance(member, OpenEnum) else member)


# -- optional fields -------------------------------------------------------------------------


def _is_optional(cls: Any) -> bool:
    return optional_inner(cls) is not None


def _optional_hook(cls: Any) -> Any:
    """``X | None`` is most fields of every model. cattrs' union passthrough strategy leaves
    two-member optionals to cattrs' generic path, which dispatches on every call; here each
    field gets its inner hook once. A JSON primitive of the right type is returned as it is;
    any other value goes through X's (converting) hook, as before."""
    inner_type = optional_inner(cls)
    if is_open_enum(inner_type):
        return _open_enum_hook(inner_type, optional=True)
    inner = converter.get_structure_hook(inner_type)

    if inner_type in (str, int, float, bool):

        def structure_optional_primitive(value: Any, _: Any = None) -> Any:
            if value is None or value.__class__ is inner_type:
                return value
            return inner(value, inner_type)

        return structure_optional_primitive

    def structure_optional(value: Any, _: Any = None) -> Any:
        return None if value is None else inner(value, inner_type)

    return structure_optional


converter.register_structure_hook_factory(_is_optional, _optional_hook)


# -- models ----------------------------------------------------------------------------------


def _has_extra(cls: Any) -> bool:
    return attrs.has(cls) and "extra" in attrs.fields_dict(cls)


_extra_parts_cache: dict[type[Any], tuple[Callable[[Any, Any], Any], frozenset[str]]] = {}


def _extra_parts(cls: type[Any]) -> tuple[Callable[[Any, Any], Any], frozenset[str]]:
    """The hook of a request model for data with modelled keys only, and those keys."""
    parts = _extra_parts_cache.get(cls)
    if parts is None:
        fast = generate(cls, converter.get_structure_hook, skip=frozenset({"extra"}))
        parts = _extra_parts_cache[cls] = (fast, model_keys(cls))
    return parts


_keeping_extra_cache: dict[type[Any], Callable[[Any, Any], Any]] = {}


def _keeping_extra(data: Any, cls: type[Any]) -> Any:
    """The slow path: move the keys ``cls`` does not model into its ``extra``."""
    base = _keeping_extra_cache.get(cls)
    if base is None:
        base = _keeping_extra_cache[cls] = make_dict_structure_fn(
            cls, converter, extra=override(struct_hook=lambda value, _: dict(value)))
    known = model_keys(cls)
    kept = {key: value for key, value in data.items() if key in known}
    kept["extra"] = {key: value for key, value in data.items() if key not in known}
    return base(kept, cls)


def _structure_with_extra(cls: type[Any]) -> Any:
    """A request model read from JSON keeps the keys it does not model in ``extra``: its
    hook passes data with other keys to `_keeping_extra` (a subset test allocates nothing,
    so the common case, no unknown keys, stays cheap)."""
    return generate(cls, converter.get_structure_hook, skip=frozenset({"extra"}),
                    unless=(model_keys(cls), _keeping_extra))


def _is_list_of_extra(cls: Any) -> bool:
    args = typing.get_args(cls)
    return typing.get_origin(cls) is list and len(args) == 1 and _has_extra(args[0])


def _list_with_extra(cls: Any) -> Any:
    # Layouts are lists of these (options, columns, rows, pages): one frame less per element.
    [elem] = typing.get_args(cls)
    base, known = _extra_parts(elem)

    def structure_list_keeping_extra(data: Any, _: Any = None) -> list[Any]:
        return [base(e, elem) if e.keys() <= known else _keeping_extra(e, elem) for e in data]

    return structure_list_keeping_extra


# Every other model: a hook written for it (`_model_hooks`). Registered first, so the
# factories below, for models keeping extra keys, take precedence.
converter.register_structure_hook_factory(
    attrs.has, lambda cls: generate(cls, converter.get_structure_hook))
converter.register_structure_hook_factory(_has_extra, _structure_with_extra)
converter.register_structure_hook_factory(_is_list_of_extra, _list_with_extra)


def _omit_none_unstructure(cls: type[Any]) -> Any:
    # Field types are strings until resolved (postponed annotations), and `computed` below
    # reads them: resolve first, or a model unstructured before anything else keeps its Nones.
    attrs.resolve_types(cls)
    # Only fields whose default is None are left out when unset: a real default is sent.
    overrides: dict[str, Any] = {a.name: override(omit_if_default=True)
                                 for a in attrs.fields(cls) if a.default is None}
    # A default computed from other fields (a Factory taking self, as
    # StudyCreate.data_collection_method) is sent when it is a value, left out when None.
    computed = [a.name for a in attrs.fields(cls)
                if getattr(a.default, "takes_self", False) and _is_optional(a.type)]
    with_extra = _has_extra(cls)
    if with_extra:
        overrides["extra"] = override(omit=True)
    base = make_dict_unstructure_fn(cls, converter, **overrides)
    tag = getattr(cls, "TYPE", None)
    if tag is None and not with_extra and not computed:
        return base

    def unstructure_model(obj: Any) -> dict[str, Any]:
        body = base(obj)
        for name in computed:
            if body[name] is None:
                del body[name]
        if tag is not None:
            body = {"type": tag, **body}
        if with_extra and obj.extra:
            body.update(obj.extra)
        return body

    return unstructure_model


converter.register_unstructure_hook_factory(
    lambda cls: attrs.has(cls) and cls is not UnknownItem, _omit_none_unstructure
)


# -- the item union --------------------------------------------------------------------------

_item_parts: dict[str, tuple[type[Any], Callable[[Any, Any], Any], frozenset[str]]] = {}


def _structure_item(data: Any, _: Any = None) -> Any:
    if not isinstance(data, dict):
        raise TypeError(f"an item must be a JSON object, got {data!r}")
    tag = data.get("type", "")
    parts = _item_parts.get(tag)
    if parts is None:
        cls = ITEM_TYPES.get(tag)
        if cls is None:
            return UnknownItem(type=str(tag), data=data)
        parts = _item_parts[tag] = (cls, *_extra_parts(cls))
    cls, base, known = parts
    try:
        return base(data, cls) if data.keys() <= known else _keeping_extra(data, cls)
    except ValueError:
        # A rule the model checks (an answer_limit above the options, ...) that the server
        # let through: keep the item whole rather than fail the whole answer.
        return UnknownItem(type=str(tag), data=data)


def _unstructure_item(item: Any) -> Any:
    if isinstance(item, UnknownItem):
        return dict(item.data)
    return converter.unstructure(item, type(item))


converter.register_structure_hook(Item, _structure_item)
converter.register_unstructure_hook(Item, _unstructure_item)
converter.register_unstructure_hook(UnknownItem, lambda item: dict(item.data))


# -- the entry point for callers -------------------------------------------------------------

_structure_fns: dict[Any, Callable[[Any], Any]] = {}


def structure_fn(model: type[T]) -> Callable[[Any], T]:
    """The cached function that reads JSON data as ``model`` (an attrs class, ``list[...]``,
    ...), to call directly on every answer: no dispatch per call.

    Example::

        read_batch = structure_fn(Batch)
        batch = read_batch(response_json)
    """
    cached = _structure_fns.get(model)
    if cached is None:
        hook: Any = converter.get_structure_hook(model)
        # Every attrs hook here takes the data alone (cattrs' generated ones default their
        # type argument, ours ignore it): call it with no wrapper.
        cached = hook if attrs.has(model) else _bind(hook, model)
        _structure_fns[model] = cached
    return cached


def _bind(hook: Callable[[Any, Any], Any], model: Any) -> Callable[[Any], Any]:
    """``hook`` with its type argument given, for hooks that need it (lists, unions)."""

    def structure(data: Any) -> Any:
        return hook(data, model)

    return structure
