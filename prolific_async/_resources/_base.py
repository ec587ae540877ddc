"""What every resource shares: path building with validated ids, one way to call and parse,
the job kinds it watches, and the deprecated spelling of ``poll=``."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from urllib.parse import quote, urljoin

from .._config import PollPolicy
from .._context import Context
from .._converter import converter, structure_fn
from .._errors import UnexpectedResponseError, truncate
from .._jobs import JobKind
from .._models.common import TaskDetails
from .._transport import Response, Transport
from .._watch import Watch, WatchSpec

if TYPE_CHECKING:
    from .._hooks import HookReceiver

__all__ = ["DC", "ITEM_MODEL", "Resource", "models", "required", "rows_of",
           "segment", "status_of", "structure", "task_details_body", "watches", "with_extra"]

T = TypeVar("T")
S = TypeVar("S")
F = TypeVar("F", bound=Callable[..., Any])

#: The AI Task Builder part of the API.
DC = "/api/v1/data-collection"

_BAD_SEGMENT = re.compile(r"[/\\\s\x00-\x1f\x7f?#%]")
#: Ids as Prolific makes them (hex, dashes): safe as they are, and left unchanged by quoting.
_PLAIN_ID = re.compile(r"[A-Za-z0-9_-]+")


def segment(name: str, value: str, *, text: bool = False) -> str:
    """Validate one path segment (an id or a filename) and quote it.

    An id that could change which URL is called (``/``, ``..``, whitespace, control characters,
    ``?``, ``#``, ``%``) is refused before any request is made. Ids are ASCII (Prolific's are
    hex and dashes); a ``text`` segment (a filename) may be any text whose compatibility form
    (NFKC, which some servers apply: a fullwidth solidus becomes ``/``) is still a safe segment.
    """
    if value.__class__ is str and _PLAIN_ID.fullmatch(value):
        return value  # the common case, on every call: nothing to normalise nor to quote
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    plain = unicodedata.normalize("NFKC", value)
    if not value or plain in (".", "..") or _BAD_SEGMENT.search(plain) or ".." in plain:
        raise ValueError(f"{name} is not a valid path segment: {value!r}")
    if not text and not value.isascii():
        raise ValueError(f"{name} is not a valid path segment: {value!r} (ids are ASCII)")
    return quote(value, safe="")


def structure(response: Response, data: Any, model: Any) -> Any:
    """Read ``data`` (from ``response``) as ``model``, or say clearly that it did not fit."""
    try:
        return structure_fn(model)(data)
    except Exception as exc:
        name = getattr(model, "__name__", None) or str(model)
        raise UnexpectedResponseError(
            f"{response.request} answered {response.status} with a body that is not a "
            f"{name}: {type(exc).__name__}: {truncate(str(exc), 200)}",
            body=data, request=response.request,
        ) from exc


def rows_of(data: Any) -> list[Any] | None:
    """The rows of a list answer: ``{"results": [...], "meta": ...}`` or, in older API
    generations, a bare array; None when the answer is neither (never a silent empty list)."""
    rows = data.get("results") if isinstance(data, dict) else data
    return rows if isinstance(rows, list) else None


#: How `models` names what an item may be.
ITEM_MODEL = "an item model (pa.MultipleChoice, pa.FreeText, pa.RichText, ... or pa.UnknownItem)"


def models(where: str, values: Any, cls: Any, kind: str) -> list[Any]:
    """``values`` as a list, refusing anything that is not a ``cls`` (``kind`` names it) with
    the place it sits: a dict or a string would reach the server unchecked."""
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Sequence):
        raise TypeError(f"{where} must be a list of {kind}, got {type(values).__name__}")
    for index, value in enumerate(values):
        if not isinstance(value, cls):
            raise TypeError(f"{where}[{index}] must be {kind}, got {type(value).__name__}: "
                            "build it with the SDK's models")
    return list(values)


def required(name: str, value: str) -> str:
    """A required string argument: refuse an empty one before anything is sent."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


def task_details_body(value: TaskDetails) -> dict[str, Any]:
    """The JSON of a `TaskDetails`, refusing anything else before it is sent."""
    if not isinstance(value, TaskDetails):
        raise TypeError(f"task_details must be a TaskDetails, got {type(value).__name__}")
    body: dict[str, Any] = converter.unstructure(value)
    return body


def with_extra(body: dict[str, Any], extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """``body`` with the fields the SDK does not model yet added, refusing any that would
    overwrite a field it does (pass those as their own keyword)."""
    if extra:
        clash = sorted(set(body).intersection(extra))
        if clash:
            raise ValueError(f"extra repeats field(s) set by their own keyword: "
                             f"{', '.join(clash)}")
        body.update(extra)
    return body


def status_of(snapshot: Any) -> str:
    """The status of any snapshot with a ``status`` (an `OpenEnum` or a plain string)."""
    return str(snapshot.status)


def watches(kind: JobKind) -> Callable[[F], F]:
    """Mark the method that builds the `WatchSpec` of ``kind`` from the job's ids, so
    ``client.resume`` finds it: adding a kind of job touches one resource only."""

    def mark(method: F) -> F:
        method.__watches__ = kind  # type: ignore[attr-defined]
        return method

    return mark


class Resource:
    """A thin namespace: each method turns arguments into one call and a model."""

    #: Job kind name -> name of the method building its spec (filled by `watches`).
    _spec_builders: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        builders = dict(cls._spec_builders)
        for name, value in vars(cls).items():
            kind = getattr(value, "__watches__", None)
            if isinstance(kind, JobKind):
                builders[kind.name] = name
        cls._spec_builders = builders

    def __init__(self, context: Context) -> None:
        self._context = context

    def __repr__(self) -> str:
        return f"<{type(self).__name__} ({self._context.state})>"

    @property
    def _transport(self) -> Transport:
        return self._context.transport

    def spec_for(self, kind: str, ids: tuple[str, ...]) -> WatchSpec[Any] | None:
        """The spec of a ``kind`` job with these ids, if this resource watches that kind."""
        builder = self._spec_builders.get(kind)
        if builder is None:
            return None
        try:
            spec: WatchSpec[Any] = getattr(self, builder)(*ids)
        except TypeError:
            raise ValueError(f"wrong number of ids for a {kind} watch: {list(ids)!r}") from None
        return spec

    def _watch(self, spec: WatchSpec[S], poll: PollPolicy | None, *,
               expect_started: bool = False, events: HookReceiver | None = None) -> Watch[S]:
        watch: Watch[S] = self._context.watch(spec, poll, expect_started=expect_started,
                                              events=events)
        return watch

    async def _request(
        self, method: str, path: str, *, params: Mapping[str, str | int] | None = None,
        json_body: Any = None, idempotent: bool = True, retry: bool = True,
    ) -> Response:
        return await self._transport.request(method, path, params=params, json_body=json_body,
                                             idempotent=idempotent, retry=retry)

    async def _call(
        self, method: str, path: str, model: Any = None, *,
        params: Mapping[str, str | int] | None = None, json_body: Any = None,
        idempotent: bool = True, rows: bool = False,
    ) -> Any:
        """One call, its answer read as ``model`` (``rows=True``: a list answer, as
        ``list[model]``). The one way answers are parsed."""
        response = await self._context.transport.request(
            method, path, params=params, json_body=json_body, idempotent=idempotent)
        if model is not None and not rows:
            return structure(response, response.data, model)  # a frame less, on every get
        return self._parse(response, model, rows=rows)

    async def _pages(self, path: str, item: type[T]) -> AsyncIterator[T]:
        """The rows of a list endpoint, one page at a time: the first answer, then each
        ``_links.next.href`` (or ``next``) it names, as older Prolific list endpoints page.
        A next link off the API's base URL is refused: the token goes nowhere else."""
        seen = {path}
        next_path: str | None = path
        while next_path is not None:
            response = await self._request("GET", next_path)
            rows: list[T] = self._parse(response, item, rows=True)
            for row in rows:
                yield row
            next_path = _next_page(self._transport.base_url, response)
            if next_path is not None:
                if next_path in seen:
                    raise UnexpectedResponseError(
                        f"{response.request} names a next page already read: {next_path}",
                        body=response.data, request=response.request)
                seen.add(next_path)

    @staticmethod
    def _parse(response: Response, model: Any, *, rows: bool = False) -> Any:
        if model is None:
            return None
        if rows:
            found = rows_of(response.data)
            if found is None:
                raise UnexpectedResponseError(
                    f"{response.request} answered {response.status} with a body that is not a "
                    f"list: {truncate(repr(response.data), 200)}",
                    body=response.data, request=response.request)
            return structure(response, found, list[model])
        return structure(response, response.data, model)

    def _spec(self, job: JobKind, ids: tuple[str, ...], path: str, model: type[S],
              status: Callable[[S], str] = status_of) -> WatchSpec[S]:
        """A watch of ``path``: one attempt per poll, as the poller retries on its own
        schedule."""

        async def fetch() -> S:
            response = await self._request("GET", path, retry=False)
            snapshot: S = self._parse(response, model)
            return snapshot

        return WatchSpec(job=job, ids=ids, fetch=fetch, status_of=status)


def _next_page(base_url: str, response: Response) -> str | None:
    """The path (and query) of the next page an answer names, or None on the last page."""
    data = response.data
    link: Any = None
    if isinstance(data, dict):
        links = data.get("_links")
        nxt = links.get("next") if isinstance(links, dict) else None
        link = nxt.get("href") if isinstance(nxt, dict) else data.get("next")
    if not isinstance(link, str) or not link:
        return None
    url = urljoin(base_url + "/", link)
    if not url.startswith(base_url + "/"):
        raise UnexpectedResponseError(
            f"{response.request} names a next page off the API: {truncate(url, 200)}",
            body=data, request=response.request)
    return url[len(base_url):]
