"""Plan files: many `BatchPlan` s in one TOML file, with defaults shared by all of them.

Example (``plans.toml``; paths are relative to the file)::

    [defaults]
    workspace_id = "6745ab669112d10b9b3afb48"
    tasks_per_group = 2
    export_to = "exports"

    [defaults.task_details]
    task_name = "Compare two responses"
    task_introduction = "<p>Read the prompt and both responses.</p>"
    task_steps = "<ol><li>Read</li><li>Choose</li></ol>"

    [[defaults.instructions]]
    type = "multiple_choice"
    description = "Which response is more helpful?"
    answer_limit = 1
    options = [{label = "A", value = "a"}, {label = "B", value = "b"}]

    [defaults.study]
    description = "Compare two AI responses"
    reward = 50
    places = 10
    estimated_minutes = 3

    [[plan]]
    name = "reviews-1"
    dataset = "data/reviews-1.csv"

    [[plan]]
    name = "reviews-2"
    dataset_id = "0192f0c4-…"          # an existing dataset
    study = {places = 20, publish = true}   # merged over defaults.study

A plan takes the keys of `BatchPlan` (``dataset`` is a path; ``dataset_id`` names an
existing dataset instead), ``instructions`` as a list of items with their ``type``, or
``layout`` as pages of ``rows`` of ``columns`` of ``items``; tables (``task_details``,
``study``) are merged key by key over the defaults, anything else replaces the default.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import cattrs
from cattrs.cols import is_sequence, list_structure_factory
from cattrs.strategies import configure_union_passthrough

from . import _sdk as pa
from ._plan import BatchPlan, ExistingDataset, StudyPlan

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["PlanFileError", "load_plans"]


class PlanFileError(pa.ProlificError, ValueError):
    """A plan file that cannot be read; ``line`` and ``field`` say where (when known)."""

    def __init__(self, message: str, *, path: Path, line: int | None = None,
                 field: str | None = None) -> None:
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line
        self.field = field


_PLAN_KEYS = frozenset(a.name for a in attrs.fields(BatchPlan)) | {"dataset_id"}
_MERGED = ("task_details", "study")
_ALTERNATIVES = (("instructions", "layout"), ("dataset", "dataset_id"))
_ITEMS: dict[str, type[Any]] = {
    cls.TYPE: cls for cls in (pa.MultipleChoice, pa.MultipleChoiceWithFreeText, pa.FreeText,
                              pa.FreeTextWithUnit, pa.FileUpload, pa.RichText, pa.Image,
                              pa.DatasetField)
}
_converter = cattrs.Converter(forbid_extra_keys=True)
configure_union_passthrough(str | int | float | bool | None, _converter)

#: A plan file larger than this is refused before it is parsed (plans are small; a huge file
#: is a mistake, and TOML is parsed whole in memory).
MAX_PLAN_FILE_BYTES = 16 << 20


def _kind(value: Any) -> str:
    return "text" if isinstance(value, str) else type(value).__name__


# TOML has types: a value of the wrong one is refused, never converted (cattrs' defaults
# would make "false" true, 5 the text "5" and 1.9 the integer 1).
def _strict_text(value: Any, _: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be text, got {_kind(value)} {value!r}")
    return value


def _strict_flag(value: Any, _: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, got {_kind(value)} {value!r}")
    return value


def _strict_integer(value: Any, _: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"must be an integer, got {_kind(value)} {value!r}")
    return value


def _strict_number(value: Any, _: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value):
        raise ValueError(f"must be a finite number, got {_kind(value)} {value!r}")
    return value


for _type, _hook in ((str, _strict_text), (bool, _strict_flag), (int, _strict_integer),
                     (float, _strict_number)):
    _converter.register_structure_hook(_type, _hook)


def _strict_list(type_: Any, converter: cattrs.BaseConverter) -> Any:
    items = list_structure_factory(type_, converter)

    def structure(value: Any, _: Any) -> Any:
        # A string is iterable: "desktop" would otherwise become seven one-letter items.
        if not isinstance(value, list):
            raise ValueError(f"must be a list, got {_kind(value)} {value!r}")
        return items(value, type_)

    return structure


_converter.register_structure_hook_factory(is_sequence, _strict_list)


def _structure_item(data: Any, _: Any) -> Any:
    if not isinstance(data, Mapping):
        raise ValueError(f"an item must be a table with a type, got {data!r}")
    kind = data.get("type")
    if kind not in _ITEMS:
        raise ValueError(f"unknown item type {kind!r}; known: {', '.join(sorted(_ITEMS))}")
    return _converter.structure({k: v for k, v in data.items() if k != "type"}, _ITEMS[kind])


_converter.register_structure_hook_func(lambda t: t == pa.Item, _structure_item)


class _Locator:
    """Finds the line of a key in the file, from the table it belongs to."""

    _HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\-\" ]+?)\s*\]\]?\s*(#.*)?$")

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        #: (line number, table name, index among [[plan]]) for every header.
        self.headers: list[tuple[int, str]] = []
        for number, line in enumerate(self.lines, 1):
            found = self._HEADER.match(line)
            if found:
                self.headers.append((number, found.group(1).replace(" ", "")))

    def _block(self, root: str, index: int | None) -> tuple[int, int] | None:
        """The lines of the ``index``-th ``[[root]]`` (or of ``[root]``), sub-tables included."""
        starts = [n for n, name in self.headers if name == root]
        if not starts:
            return None
        start = starts[index or 0] if (index or 0) < len(starts) else starts[-1]
        end = len(self.lines) + 1
        for number, name in self.headers:
            if number > start and not name.startswith(root + "."):
                end = number
                break
        return start, end

    def line(self, index: int | None, field: str) -> int | None:
        """The line of ``field`` in the ``index``-th plan, else in the defaults, else the
        plan's header (``index`` None: the defaults only)."""
        keys = [part for part in re.split(r"[.\[\]]+", field) if part and not part.isdigit()]
        places = [("plan", index)] if index is not None else []
        for root, number in [*places, ("defaults", None)]:
            block = self._block(root, number)
            if block is None:
                continue
            for key in reversed(keys):
                pattern = re.compile(rf"^\s*(\[\[?\s*{re.escape(root)}\.)?\"?{re.escape(key)}\b")
                for line in range(*block):
                    if pattern.match(self.lines[line - 1]):
                        return line
        block = self._block("plan", index) if index is not None else None
        return block[0] if block else None


def load_plans(path: str | os.PathLike[str]) -> list[BatchPlan]:
    """Read the plans of a TOML plan file (see this module's docstring for the format).

    A bad file raises one `PlanFileError` naming the file, the line and the field.

    Example::

        plans = pa.load_plans("plans.toml")
        async with pa.orchestrate(client, plans, journal="run.db") as run:
            ...
    """
    file = Path(path)
    text = _read_text(file)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        raise PlanFileError(f"not valid TOML: {exc}", path=file,
                            line=int(found.group(1)) if found else None) from exc
    except RecursionError:
        # tomllib reads nested arrays and inline tables recursively.
        raise PlanFileError("values are nested too deeply to read", path=file) from None
    where = _Locator(text)

    def fail(message: str, field: str, index: int | None) -> PlanFileError:
        return PlanFileError(message, path=file, line=where.line(index, field), field=field)

    unknown = sorted(set(data) - {"defaults", "plan"})
    if unknown:
        line = next((n for n, name in where.headers if name.split(".")[0] == unknown[0]), None)
        raise PlanFileError(f"unknown table {unknown[0]!r}: a plan file has [defaults] and "
                            "[[plan]] tables", path=file, line=line, field=unknown[0])
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise PlanFileError("defaults must be a table", path=file, field="defaults")
    for key in sorted(set(defaults) - _PLAN_KEYS):
        raise fail(f"defaults.{key} is not a plan field", key, None)
    entries = data.get("plan")
    if not isinstance(entries, list) or not entries:
        raise PlanFileError("no plans: add at least one [[plan]] table", path=file,
                            field="plan")
    plans = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise PlanFileError(f"plan #{index + 1} must be a table ([[plan]]), got "
                                f"{type(entry).__name__} {entry!r}", path=file,
                                line=where.line(None, "plan"), field="plan")
        merged = dict(defaults)
        for pair in _ALTERNATIVES:
            # A plan that sets one of two alternatives does not inherit the other.
            for key in pair:
                if key in entry:
                    merged.pop(pair[1 - pair.index(key)], None)
        for key, value in entry.items():
            if key not in _PLAN_KEYS:
                raise fail(f"{key} is not a plan field; known: {', '.join(sorted(_PLAN_KEYS))}",
                           key, index)
            if key in _MERGED and isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
        plans.append(_plan(merged, file.parent, lambda m, f, i=index: fail(m, f, i), index))
    return plans


def _read_text(file: Path) -> str:
    """The file's text: at most `MAX_PLAN_FILE_BYTES`, UTF-8 (a BOM is allowed)."""
    try:
        with file.open("rb") as stream:
            raw = stream.read(MAX_PLAN_FILE_BYTES + 1)
    except OSError as exc:
        raise PlanFileError(f"cannot read the plan file: {exc.strerror}", path=file) from exc
    if len(raw) > MAX_PLAN_FILE_BYTES:
        raise PlanFileError(f"the plan file is larger than {MAX_PLAN_FILE_BYTES >> 20} MiB",
                            path=file)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise PlanFileError(f"not UTF-8 text: byte 0x{raw[exc.start]:02x} cannot be decoded "
                            "(save the file as UTF-8)", path=file, line=line) from None


#: Where a plan file's plans take their workspace when neither the plan nor [defaults] say.
WORKSPACE_ENV = "PROLIFIC_WORKSPACE"


def _plan(data: dict[str, Any], base: Path, fail: Any, index: int) -> BatchPlan:
    label = f"plan #{index + 1}" + (f" ({data['name']!r})" if isinstance(data.get("name"), str)
                                     else "")
    if "workspace_id" not in data and os.environ.get(WORKSPACE_ENV):
        data = {**data, "workspace_id": os.environ[WORKSPACE_ENV]}
    for key in ("name", "workspace_id", "task_details"):
        if key not in data:
            also = f", or set {WORKSPACE_ENV}" if key == "workspace_id" else ""
            raise fail(f"{label}: {key} is required (in the plan or in [defaults]{also})", key)
    for key in ("name", "workspace_id", "dataset", "dataset_id", "export_to"):
        if key in data and not isinstance(data[key], str):
            raise fail(f"{label}: {key} must be a string, got {data[key]!r}", key)
    if ("dataset" in data) == ("dataset_id" in data):
        raise fail(f"{label}: give exactly one of dataset (a file) or dataset_id", "dataset")
    kwargs: dict[str, Any] = {
        "name": data["name"], "workspace_id": data["workspace_id"],
        "dataset": ExistingDataset(data["dataset_id"]) if "dataset_id" in data
        else base / data["dataset"],
    }
    if "export_to" in data:
        kwargs["export_to"] = base / data["export_to"]
    if "tasks_per_group" in data:
        kwargs["tasks_per_group"] = data["tasks_per_group"]
    models: list[tuple[str, Any]] = [("task_details", pa.TaskDetails),
                                     ("instructions", list[pa.Item]),
                                     ("layout", list[pa.BatchPage]),
                                     ("dataset_schema", pa.DatasetSchema)]
    for key, model in models:
        if key in data:
            kwargs[key] = _structure(data[key], model, key, label, fail)
    if "study" in data:
        study = data["study"]
        if not isinstance(study, dict):
            raise fail(f"{label}: study must be a table", "study")
        known = {a.name for a in attrs.fields(StudyPlan)}
        for key in study:
            if key not in known:
                raise fail(f"{label}: study.{key} is not a study field; known: "
                           f"{', '.join(sorted(known))}", f"study.{key}")
        for key in ("description", "reward", "places", "estimated_minutes"):
            if key not in study:
                raise fail(f"{label}: study.{key} is required", "study")
        study = dict(study)
        for key, model in (("completion_codes", list[pa.CompletionCode]),
                           ("filters", list[pa.StudyFilter])):
            if key in study:
                study[key] = _structure(study[key], model, f"study.{key}", label, fail)
        try:
            kwargs["study"] = StudyPlan(**study)
        except (TypeError, ValueError) as exc:
            field = next((k for k in study if re.match(rf"(StudyPlan\.)?{k}\b", str(exc))), "")
            raise fail(f"{label}: study: {exc}", f"study.{field}" if field else "study") from None
    try:
        return BatchPlan(**kwargs)
    except (TypeError, ValueError) as exc:
        field = next((k for k in ("tasks_per_group", "instructions", "layout", "dataset",
                                  "dataset_schema", "name", "workspace_id")
                      if re.search(rf"\b{k}\b", str(exc))), "plan")
        # BatchPlan names itself ("plan 'x': ..."); the label already did.
        reason = re.sub(r"^plan '[^']*': ", "", str(exc))
        raise fail(f"{label}: {reason}", field) from None


def _structure(value: Any, model: Any, key: str, label: str, fail: Any) -> Any:
    try:
        return _converter.structure(value, model)
    except Exception as exc:
        messages = cattrs.transform_error(exc, path=key, format_exception=_describe) if (
            isinstance(exc, cattrs.BaseValidationError)) else [f"{exc} @ {key}"]
        first = messages[0] if messages else str(exc)
        field = first.rsplit(" @ $", 1)[-1] if " @ $" in first else first.rsplit(" @ ", 1)[-1]
        raise fail(f"{label}: {first.replace(' @ ', ' at ')}", field) from None


def _describe(exc: BaseException, type_: Any) -> str:
    # Our own hooks' messages already say what is wrong; cattrs' would name private classes.
    if type(exc) is ValueError:
        return str(exc)
    return cattrs.v.format_exception(exc, type_)
