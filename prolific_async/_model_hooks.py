"""Structure hooks written once per model class, specialised field by field.

cattrs' generated hook calls a field hook for every key present (13 Python calls for a
`Batch`, each ``str | None`` field through a function that only checks the class), gathers
the values in a dict and passes it as ``**kwargs``. Answers are parsed on every call, so the
hooks here inline the common cases and call the model with its keywords directly:

- ``X | None`` with a ``None`` default, X a JSON primitive (str, int, float, bool): the value
  is used as it is when it is None or exactly an X; anything else goes through X's hook;
- open enums: a dict lookup of the known members, the enum's own hook for anything else;
- datetimes: `parse_datetime`, called only on a value that is not None;
- any other field type (nested models, lists, unions, mappings): the converter's hook, as
  cattrs' generated code calls it.

The model's own ``__init__`` builds the instance, so validators, converters and
``__attrs_post_init__`` run exactly as before; when that ``__init__`` only stores its
arguments (most answer models), the hook stores each slot itself, at half the cost. A
missing required key raises ``KeyError`` naming it, as cattrs' hook does.
"""

from __future__ import annotations

import linecache
import sys
import types
import typing
from collections.abc import Callable
from datetime import datetime
from typing import Any

import attrs
from cattrs.errors import StructureHandlerNotFoundError

from ._models.common import OpenEnum

__all__ = ["generate", "is_open_enum", "optional_inner"]

Hook = Callable[..., Any]
#: Python 3.11's fromisoformat reads every ISO-8601 form the API sends ("Z", any fraction).
_READS_ISO = sys.version_info >= (3, 11)
_PRIMITIVES = (str, int, float, bool)
#: List hooks that call their element's hook on each element, and nothing else.
_LIST_HOOKS = ("structure_list", "structure_list_keeping_extra")


def optional_inner(tp: Any) -> Any:
    """X for ``X | None`` (two members), else None."""
    args = typing.get_args(tp)
    if (typing.get_origin(tp) in (typing.Union, types.UnionType) and len(args) == 2
            and type(None) in args):
        return next(arg for arg in args if arg is not type(None))
    return None


def is_open_enum(tp: Any) -> bool:
    """Whether ``tp`` is an `OpenEnum` (it keeps values it does not know)."""
    return isinstance(tp, type) and issubclass(tp, OpenEnum)


def _convert(var: str, tp: Any, n: int, env: dict[str, Any], get_hook: Callable[[Any], Hook],
             pad: str) -> list[str]:
    """Lines turning ``var`` (not None) into a ``tp``, with what they need added to ``env``."""
    if tp in _PRIMITIVES:
        env[f"_t{n}"], env[f"_h{n}"] = tp, get_hook(tp)
        return [f"{pad}if {var}.__class__ is not _t{n}:", f"{pad}    {var} = _h{n}({var}, _t{n})"]
    if is_open_enum(tp):
        env[f"_t{n}"], env[f"_m{n}"], env[f"_h{n}"] = tp, tp._value2member_map_, get_hook(tp)
        return [f"{pad}_e = _m{n}.get({var})",
                f"{pad}{var} = _h{n}({var}, _t{n}) if _e is None else _e"]
    if tp is datetime:
        env[f"_h{n}"] = get_hook(datetime)
        if not _READS_ISO:
            return [f"{pad}{var} = _h{n}({var})"]
        # The converter's hook (`parse_datetime`) is fromisoformat for an aware ISO string:
        # called here directly; a naive or odd value, or another type, goes to the hook.
        env["_str"], env["_fromiso"] = str, datetime.fromisoformat
        return [f"{pad}_d = None",
                f"{pad}if {var}.__class__ is _str:",
                f"{pad}    try:",
                f"{pad}        _d = _fromiso({var})",
                f"{pad}    except ValueError:",
                f"{pad}        pass",
                f"{pad}{var} = _d if _d is not None and _d.tzinfo is not None else _h{n}({var})"]
    if (typing.get_origin(tp) is list and typing.get_args(tp)[-1:] != (Any,)
            and getattr(get_hook(tp), "__name__", "") in _LIST_HOOKS):
        # The list hooks (cattrs' without detailed validation, the converter's for models
        # keeping extra keys) are this comprehension in a frame of their own: one call less.
        [elem] = typing.get_args(tp)
        env[f"_t{n}"], env[f"_h{n}"] = elem, get_hook(elem)
        return [f"{pad}{var} = [_h{n}(_x, _t{n}) for _x in {var}]"]
    if tp is Any:
        return []
    env[f"_t{n}"], env[f"_h{n}"] = tp, get_hook(tp)
    return [f"{pad}{var} = _h{n}({var}, _t{n})"]


def _has_hook(tp: Any, get_hook: Callable[[Any], Hook]) -> bool:
    try:
        get_hook(tp)
    except StructureHandlerNotFoundError:
        return False
    return True


def _plain_init(cls: type[Any], skip: frozenset[str]) -> bool:
    """Whether ``cls``'s ``__init__`` only stores its arguments: attrs wrote it, no field is
    left out of it or has a converter, only fields in ``skip`` (set to their default, a plain
    value) have a validator, and there are no ``__attrs_pre_init__``/``__attrs_post_init__``
    nor a cached hash. Then an instance may be built by storing each slot directly, as that
    ``__init__`` does."""
    code = getattr(getattr(cls, "__init__", None), "__code__", None)
    return (
        "__slots__" in vars(cls) and code is not None
        and code.co_filename.startswith("<attrs generated")
        and not hasattr(cls, "__attrs_pre_init__") and not hasattr(cls, "__attrs_post_init__")
        and "__attrs_cached_hash" not in getattr(cls, "__slots__", ())
        and all(field.init and field.converter is None and (
                    field.validator is None if field.name not in skip
                    else field.default is not attrs.NOTHING
                    and not isinstance(field.default, attrs.Factory))  # type: ignore[arg-type]
                for field in attrs.fields(cls))
    )


def _builder(cls: type[Any]) -> type[Any] | None:
    """A subclass of ``cls`` with its layout and plain attribute stores, or None when its
    instances cannot become ``cls`` instances (``__class__`` assignment refused)."""
    builder = type(f"_{cls.__name__}Builder", (cls,), {
        "__slots__": (), "__module__": cls.__module__,
        # Both: one of them left to a frozen class keeps the slow Python-level setattr.
        "__setattr__": object.__setattr__, "__delattr__": object.__delattr__})
    probe: Any = object.__new__(builder)
    try:
        probe.__class__ = cls
    except TypeError:
        return None
    return builder


def _set_slots(cls: type[Any], args: list[str], skip: frozenset[str],
               env: dict[str, Any]) -> list[str]:
    """Lines building the instance from ``args`` (``alias=var``) the way attrs' ``__init__``
    does, without its call: a new object, each slot set to its value (a field in ``skip`` to
    its default), then the validators of those run.

    The object is born a builder, a subclass of ``cls`` with the same layout whose attribute
    stores are plain (the interpreter's specialised slot store, not a call through the slot's
    descriptor: a tenth of the cost), and becomes a ``cls`` once every slot is set, before
    anything else sees it. For a 15-field model this cuts building it by two thirds."""
    builder = _builder(cls)
    env["_new"] = object.__new__
    by_alias = {field.alias: field.name for field in attrs.fields(cls)}
    stores: list[str] = []
    for arg in args:
        alias, var = arg.split("=")
        name = by_alias[alias]
        if builder is None:
            env[f"_s_{var}"] = getattr(cls, name).__set__
            stores.append(f"    _s_{var}(self, {var})")
        else:
            stores.append(f"    self.{name} = {var}")
    checks: list[str] = []
    for n, field in enumerate(attrs.fields(cls)):
        if field.name in skip:
            env[f"_d{n}"] = field.default
            if builder is None:
                env[f"_s_d{n}"] = getattr(cls, field.name).__set__
                stores.append(f"    _s_d{n}(self, _d{n})")
            else:
                stores.append(f"    self.{field.name} = _d{n}")
            if field.validator is not None:
                env[f"_a{n}"], env[f"_val{n}"] = field, field.validator
                checks.append(f"    _val{n}(self, _a{n}, _d{n})")
    if builder is None:
        head, tail = ["    self = _new(_cls)"], []
    else:
        env["_builder"] = builder
        head, tail = ["    self = _new(_builder)"], ["    self.__class__ = _cls"]
    return [*head, *stores, *tail, *checks, "    return self"]


def generate(cls: type[Any], get_hook: Callable[[Any], Hook], *,
             skip: frozenset[str] = frozenset(),
             unless: tuple[frozenset[str], Hook] | None = None) -> Hook:
    """The structure hook of attrs class ``cls``. Fields named in ``skip`` are left to their
    defaults (``extra``, which the caller fills on its slow path). ``unless``: data with
    keys beyond these goes to this function instead, as ``slow(data, cls)``."""
    attrs.resolve_types(cls)
    env: dict[str, Any] = {"_cls": cls}
    lines = [f"def structure_{cls.__name__}(o, _=None):"]
    if unless is not None:
        env["_known"], env["_slow"] = unless
        lines += ["    if not o.keys() <= _known:", "        return _slow(o, _cls)"]
    lines.append("    g = o.get")
    args: list[str] = []
    rest: list[str] = []  # fields with another default: given only when the key is there
    for n, field in enumerate(attrs.fields(cls)):
        if not field.init or field.name in skip:
            continue
        var, key = f"v{n}", field.name
        inner = optional_inner(field.type)
        if field.converter is not None and not _has_hook(field.type, get_hook):
            # As cattrs does: a type it cannot structure is left to the field's converter.
            if field.default is attrs.NOTHING:
                args.append(f"{field.alias}=o[{key!r}]")
            else:
                rest += [f"    if {key!r} in o:", f"        kw[{field.alias!r}] = o[{key!r}]"]
            continue
        if field.default is attrs.NOTHING:
            lines.append(f"    {var} = o[{key!r}]")
            lines += _convert(var, field.type, n, env, get_hook, "    ")
            args.append(f"{field.alias}={var}")
        elif field.default is None and inner is not None:
            lines.append(f"    {var} = g({key!r})")
            convert = _convert(var, inner, n, env, get_hook, "        ")
            if convert:
                lines += [f"    if {var} is not None:", *convert]
            args.append(f"{field.alias}={var}")
        else:
            convert = _convert(var, field.type, n, env, get_hook, "        ")
            rest += [f"    if {key!r} in o:", f"        {var} = o[{key!r}]", *convert,
                     f"        kw[{field.alias!r}] = {var}"]
    if rest:
        lines += ["    kw = {}", *rest]
        args.append("**kw")
    if _plain_init(cls, skip) and not rest:
        lines += _set_slots(cls, args, skip, env)
    else:
        lines.append(f"    return _cls({', '.join(args)})")
    source = "\n".join(lines) + "\n"
    # A file name linecache knows, so a traceback through the hook shows its lines.
    filename = f"<prolific_async structure {cls.__module__}.{cls.__qualname__}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), env)  # our own source, built from the fields
    hook: Hook = env[f"structure_{cls.__name__}"]
    return hook
