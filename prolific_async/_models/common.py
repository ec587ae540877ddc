"""Shapes shared by several areas of the API, and the two rules every model follows:
request models take an ``extra`` mapping for fields the SDK does not know yet, and
presigned URLs never show their signature in a ``repr``."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs

__all__ = [
    "OpenEnum",
    "StatusSnapshot",
    "TaskDetails",
    "extra_field",
    "mask_url",
    "model_keys",
]


class OpenEnum(str, enum.Enum):
    """A string enum that keeps values it does not know instead of failing.

    The API adds statuses and renames values often, so parsing ``{"status": "ARCHIVED"}``
    must not crash: it gives a pseudo-member whose ``value`` is ``"ARCHIVED"`` and whose
    ``known`` is False. Members compare equal to their strings.

    Example::

        status = pa.BatchStatus("ARCHIVED")
        status == "ARCHIVED", status.known    # (True, False)
    """

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if not isinstance(value, str):
            return None
        member = str.__new__(cls, value)
        member._name_ = value
        member._value_ = value
        return member

    @property
    def known(self) -> bool:
        """Whether this version of the SDK knows the value."""
        return self._name_ in type(self).__members__

    def __str__(self) -> str:
        return str(self.value)


# -- fields the SDK does not know yet -----------------------------------------------------


_model_keys: dict[type[Any], frozenset[str]] = {}


def model_keys(cls: type[Any]) -> frozenset[str]:
    """The JSON keys a model writes itself: its fields (``extra`` aside) and, for a tagged
    item, ``type``."""
    keys = _model_keys.get(cls)
    if keys is None:
        names = {field.name for field in attrs.fields(cls) if field.name != "extra"}
        if getattr(cls, "TYPE", None) is not None:
            names.add("type")
        keys = _model_keys[cls] = frozenset(names)
    return keys


def _check_extra(instance: Any, _: Any, value: Mapping[str, Any]) -> None:
    if not value:
        return
    if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
        raise TypeError(f"{type(instance).__name__}.extra must be a mapping with string keys, "
                        f"got {value!r}")
    clash = sorted(model_keys(type(instance)).intersection(value))
    if clash:
        raise ValueError(
            f"{type(instance).__name__}.extra repeats modelled field(s) {', '.join(clash)}: "
            "pass them as arguments instead")


def extra_field() -> Any:
    """The ``extra`` field of a request model: JSON fields the SDK does not model yet, merged
    into the body sent. A key that is also a modelled field is refused (``ValueError``), so a
    value is never given twice. Parsing an answer into a request model keeps the keys it does
    not know here, so reading a layout and sending it back loses nothing."""
    return attrs.field(default=_NO_EXTRA, validator=_check_extra, kw_only=True,
                       repr=_repr_extra)


class _NoExtra(Mapping[str, Any]):
    """The empty, read-only ``extra`` every model shares by default. Unlike an empty
    ``mappingproxy`` it hashes and pickles (as this one instance), so a model without extra
    fields can be pickled (multiprocessing, caches) and, when its other fields allow, hashed."""

    __slots__ = ()

    def __getitem__(self, key: str) -> Any:
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __hash__(self) -> int:
        return hash(frozenset())

    def __repr__(self) -> str:
        return "{}"

    def __reduce__(self) -> str:
        return "_NO_EXTRA"  # the module-level instance, found by name when unpickled


#: The shared, read-only default: most models have no extra fields, and allocating an empty
#: dict for each would cost every parsed answer.
_NO_EXTRA: Mapping[str, Any] = _NoExtra()


def _repr_extra(value: Mapping[str, Any]) -> str:
    return repr(dict(value))


# -- presigned URLs -------------------------------------------------------------------------


def mask_url(url: str | None) -> str:
    """A presigned URL for a ``repr``: its query string (the signature, a credential for the
    object) is replaced by ``<redacted>``.

    Example::

        mask_url("https://s3.example/k.csv?X-Amz-Signature=abc")
        # "'https://s3.example/k.csv?<redacted>'"
    """
    if url is None:
        return "None"
    parts = urlsplit(url)
    if not (parts.query or parts.fragment):
        return repr(url)
    return repr(f"{parts.scheme}://{parts.netloc}{parts.path}?<redacted>")


# -- shared shapes -------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class TaskDetails:
    """What participants see before the tasks of a batch or collection.

    ``task_introduction`` and ``task_steps`` are HTML.

    Example::

        pa.TaskDetails(
            task_name="Rate two answers",
            task_introduction="<p>Compare two AI answers to the same question.</p>",
            task_steps="<ol><li>Read both</li><li>Pick the better one</li></ol>",
        )
    """

    task_name: str
    task_introduction: str
    task_steps: str
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen
class StatusSnapshot:
    """The body of a ``…/status`` endpoint, e.g. ``{"status": "PROCESSING"}``.

    Example::

        async for t in client.batches.watch(batch_id):
            print(t.snapshot.status)    # "PROCESSING", then "READY"
    """

    status: str
