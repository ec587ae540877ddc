"""What every resource shares: path building with validated ids, one call-and-parse helper,
and watch construction."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urljoin

from .._converter import converter
from .._errors import UnexpectedResponseError, truncate
from .._polling import WatchSpec
from .._transport import Response, RetryMode, Transport

if TYPE_CHECKING:
    from .._client import Prolific

__all__ = ["DC", "Resource", "required", "rows_of", "segment", "structure"]

T = TypeVar("T")
S = TypeVar("S")

#: The AI Task Builder part of the API.
DC = "/api/v1/data-collection"

_BAD_SEGMENT = re.compile(r"[/\\\s\x00-\x1f\x7f?#%]")


def segment(name: str, value: str) -> str:
    """Validate one path segment (an id or a filename) and quote it.

    An id that could change which URL is called (``/``, ``..``, whitespace, control characters,
    ``?``, ``#``, ``%``) is refused before any request is made.
    """
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    if not value or value in (".", "..") or _BAD_SEGMENT.search(value) or ".." in value:
        raise ValueError(f"{name} is not a valid path segment: {value!r}")
    return quote(value, safe="")


def structure(response: Response, data: Any, model: Any) -> Any:
    """Read ``data`` (from ``response``) as ``model``, or say clearly that it did not fit."""
    try:
        return converter.structure(data, model)
    except Exception as exc:
        name = getattr(model, "__name__", None) or str(model)
        raise UnexpectedResponseError(
            f"{response.request} answered {response.status} with a body that is not a "
            f"{name}: {type(exc).__name__}: {truncate(str(exc), 200)}",
            body=data, request=response.request,
        ) from exc


def rows_of(data: Any) -> list[Any]:
    """The rows of a list answer: ``{"results": [...], "meta": ...}`` or, in older API
    generations, a bare array (REFERENCE §1a #1 and #15)."""
    rows = data.get("results") if isinstance(data, dict) else data
    return rows if isinstance(rows, list) else []


def required(name: str, value: str) -> str:
    """A required string argument: refuse an empty one before anything is sent."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


class Resource:
    """A thin namespace: each method turns arguments into one transport call and a model."""

    def __init__(self, client: Prolific) -> None:
        self._client = client

    @property
    def _transport(self) -> Transport:
        return self._client._require_transport()

    async def _call(
        self,
        method: str,
        path: str,
        model: Any = None,
        *,
        params: Mapping[str, str | int] | None = None,
        json_body: Any = None,
        retry: RetryMode = "always",
    ) -> Any:
        response = await self._transport.request(
            method, path, params=params, json_body=json_body, retry=retry
        )
        return self._parse(response, model)

    async def _list(
        self, path: str, item: type[T], *, params: Mapping[str, str | int] | None = None
    ) -> list[T]:
        response = await self._transport.request("GET", path, params=params)
        rows: list[T] = structure(response, rows_of(response.data), list[item])  # type: ignore[valid-type]
        return rows

    async def _pages(self, path: str, item: type[T]) -> AsyncIterator[T]:
        """The rows of a list endpoint, one page at a time: the first answer, then each
        ``_links.next.href`` (or ``next``) it names, as older Prolific list endpoints page
        (REFERENCE §6). A next link off the API's base URL is refused: the token goes nowhere
        else."""
        seen = {path}
        next_path: str | None = path
        while next_path is not None:
            response = await self._transport.request("GET", next_path)
            rows: list[T] = structure(response, rows_of(response.data), list[item])  # type: ignore[valid-type]
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
    def _parse(response: Response, model: Any) -> Any:
        if model is None:
            return None
        return structure(response, response.data, model)

    def _spec(
        self,
        kind: str,
        ids: tuple[str, ...],
        path: str,
        model: type[S],
        status_of: Callable[[S], str],
    ) -> WatchSpec[S]:
        """What a watch of ``path`` polls: one attempt per poll, as the poller retries on its
        own schedule."""

        async def fetch() -> S:
            response = await self._transport.request("GET", path, retry="never")
            snapshot: S = self._parse(response, model)
            return snapshot

        return WatchSpec(kind=kind, ids=ids, fetch=fetch, status_of=status_of)


def _next_page(base_url: str, response: Response) -> str | None:
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
