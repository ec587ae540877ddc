"""The one request path every API call takes, and the one to presigned storage URLs.

`Transport.request` sends an API call: ``User-Agent`` and ``Accept`` headers, the token added
at the last moment (`authorizing_request`, or `_Authorize` on a user's session), a total
timeout per attempt, 2xx bodies read within a cap and decoded as JSON, error answers mapped
to exceptions. `Transport.transfer` uploads to and
downloads from presigned storage URLs, which never get the token. Both are retried by the one
loop of `_retrying`, which also spends the client-wide retry budget and obeys ``Retry-After``.

The success path stays lean: one partial, the loop's ``try``, and the objects an error message
needs (`RequestInfo`) built only when an error happens.
"""

from __future__ import annotations

import email.utils
import json
import random
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import datetime, timezone
from functools import partial
from typing import Any, Literal

import aiohttp
import attrs
from aiohttp.client_middlewares import ClientHandlerType

from . import _jsonparse
from ._config import RetryPolicy, Timeouts
from ._errors import (
    APIStatusError,
    RequestInfo,
    StorageError,
    UnexpectedResponseError,
    describe_body,
    error_for_status,
    truncate,
)
from ._observe import Hooks
from ._retrying import API, STORAGE, Attempts, Pause, RetryBudget, attempts
from ._secret import Secret
from ._slots import Slots
from ._stats import ClientStats
from ._urls import storage_url_problem

__all__: list[str] = []  # nothing public here

#: Error bodies beyond this are not read whole: a message needs 500 characters of them.
MAX_ERROR_BODY = 64 * 1024
#: A 2xx API answer larger than this is refused unread (``Prolific(max_response_bytes=)``).
MAX_RESPONSE_BODY = 64 * 1024 * 1024
#: Storage bodies are large: with aiohttp's 64 KiB read buffer the socket stalled while the
#: download wrote its last MiB to disk, halving throughput (benchmarks/archive.py).
TRANSFER_READ_BUFFER = 1 << 20
#: API requests under way at once through a session whose pool has no limit.
UNLIMITED = 1 << 20


class Response:
    """A decoded 2xx answer. ``request`` is built only when something asks for it."""

    __slots__ = ("data", "headers", "method", "path", "status")

    def __init__(self, status: int, headers: Mapping[str, str], data: Any, method: str,
                 path: str) -> None:
        self.status = status
        self.headers = headers
        self.data = data
        self.method = method
        self.path = path

    @property
    def request(self) -> RequestInfo:
        return RequestInfo(self.method, self.path)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: an integer, a float or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        current = datetime.now(timezone.utc).timestamp() if now is None else now
        seconds = when.timestamp() - current
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


class Transport:
    """Sends requests for one client. ``request`` talks to the API, ``transfer`` to storage.

    Both go through the one attempts loop of `_retrying`, with their own `HostRules`.
    """

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        base_url: str,
        token: Secret,
        user_agent: str,
        timeouts: Timeouts,
        retry: RetryPolicy,
        stats: ClientStats,
        rng: random.Random | None = None,
        max_body: int = MAX_RESPONSE_BODY,
        hooks: Hooks | None = None,
    ) -> None:
        self.session = session
        self.base_url: str = base_url.rstrip("/")
        self._user_agent = user_agent
        self._headers = {"User-Agent": user_agent, "Accept": "application/json"}
        self._json_headers = {**self._headers, "Content-Type": "application/json"}
        self.stats = stats
        self.max_body = max_body
        self.shared: Attempts = Attempts(policy=retry, budget=RetryBudget(
            retry.budget, retry.budget_refill_per_second), stats=stats,
            draw=(rng or random.Random()).random, hooks=hooks)
        self._api_pause = Pause()
        # As many API requests under way as the pool has connections: the others wait here,
        # not in aiohttp's pool queue, so a 429 also paces those already waiting.
        # (A pool without a limit has 0: then so many that none waits.)
        self._slots = Slots(getattr(session.connector, "limit", 0) or UNLIMITED)
        self._storage_pause = Pause()
        # The token is added below aiohttp's request frame: by the client's own session's
        # request class in place of a marker (`authorizing_request`), or on a user's session
        # by a middleware (`_Authorize`), around which the session's own middlewares run.
        self._api_middlewares: tuple[Any, ...] | None = None
        # (Only the class made for this very token: a session shared from another client
        # would carry that client's.)
        if getattr(getattr(session, "_request_class", None), "token", None) is token:
            self._headers["Authorization"] = _ASK_FOR_TOKEN
            self._json_headers["Authorization"] = _ASK_FOR_TOKEN
        else:
            self._api_middlewares = (*getattr(session, "_middlewares", ()), _Authorize(token))
        self._set(timeouts, retry)

    def _set(self, timeouts: Timeouts, retry: RetryPolicy) -> None:
        self.timeouts = timeouts
        self.retry = retry
        self._once = attrs.evolve(retry, attempts=1)
        # ``total`` bounds one attempt from connecting to its last byte: a server trickling
        # bytes resets the read timeout on each one, never the total. A read timeout no
        # shorter than the total cannot fire first, and costs aiohttp two timers per call.
        self._api_timeout = aiohttp.ClientTimeout(
            total=timeouts.total, sock_connect=timeouts.connect,
            sock_read=timeouts.read if timeouts.read < timeouts.total else None,
        )
        self._transfer_timeout = aiohttp.ClientTimeout(
            total=timeouts.transfer, sock_connect=timeouts.connect, sock_read=timeouts.read
        )

    def with_options(self, *, timeouts: Timeouts | None = None,
                     retry: RetryPolicy | None = None) -> Transport:
        """A transport sharing this one's session, budget, pauses, stats and hooks, with
        other timeouts or retry policy."""
        view = object.__new__(Transport)  # not copy.copy: a transport refuses to be reduced
        view.__dict__.update(self.__dict__)
        view.shared = attrs.evolve(self.shared, policy=retry or self.retry)
        view._set(timeouts or self.timeouts, retry or self.retry)
        return view

    @property
    def budget(self) -> RetryBudget:
        return self.shared.budget

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r})"

    def __reduce__(self) -> Any:
        raise TypeError("a Transport cannot be pickled: it holds a session and the token")

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json_body: Any = None,
        idempotent: bool = True,
        retry: bool = True,
        content: tuple[str, bytes] | None = None,
    ) -> Coroutine[Any, Any, Response]:
        """Call the API (``await`` what this returns: the loop of `_retrying`'s coroutine,
        handed on rather than awaited in a frame of its own); ``path`` starts with
        ``/api/v1/`` and is already quoted.

        ``idempotent=False`` (a request that creates something) is repeated only when the
        server provably did not act on it: the connection never opened, or it answered 429.
        An answer lost after sending raises `OutcomeUnknownError`. ``retry=False`` makes one
        attempt (pollers retry on their own schedule, and pass the poll gate on their own;
        any other request passes it while a 429 has slowed the client). ``content`` is a
        body that is not JSON, as its content type and bytes (the NDJSON of a datapoints
        append).
        """
        data: bytes | None = None
        headers = self._headers
        if json_body is not None:
            data = json.dumps(json_body, separators=(",", ":")).encode()
            headers = self._json_headers
        elif content is not None:
            headers = {**self._headers, "Content-Type": content[0]}
            data = content[1]
        send = partial(self._send, method, path, params, data, headers, retry)
        return attempts(send, self.shared, self._api_pause, method=method, url=path,
                              rules=API, idempotent=idempotent, unsafe=not idempotent,
                              policy=None if retry else self._once, body=json_body)

    async def _send(
        self, method: str, path: str, params: Mapping[str, str | int] | None,
        data: bytes | None, headers: Mapping[str, str], paced: bool,
    ) -> Response:
        gate = self.shared.gate
        # Redirects are not followed, so the token reaches no URL but the one built here;
        # a 3xx is then an error like any other.
        slots = self._slots
        # `Slots.take` rather than ``async with``: its two coroutines were a tenth of what
        # the SDK adds to a call; a free slot is taken without awaiting anything.
        if not slots.take_free():
            await slots.take()
        try:
            # Checked once a connection is free for it: a 429 then holds and slows the
            # requests that queued behind it too. (A poll passed the gate at its channel.)
            if self._api_pause.until:
                await self._api_pause.wait(self.stats)
            if paced and gate is not None and gate.rate.slowed:
                await gate.pace()
            async with self.session.request(
                method, self.base_url + path, params=params, data=data, headers=headers,
                timeout=self._api_timeout, allow_redirects=False,
                middlewares=self._api_middlewares,
            ) as resp:
                if resp.status >= 300:
                    raise await _status_error(resp, RequestInfo(method, path))
                raw = (await resp.read() if _fits(resp, self.max_body)
                       else await _read_within(resp, method, path, self.max_body))
                return Response(resp.status, resp.headers,
                                _json_answer(raw, resp, method, path), method, path)
        finally:
            slots.release()

    async def transfer(
        self,
        method: Literal["GET", "PUT"],
        url: str,
        *,
        body: Callable[[], AbstractAsyncContextManager[Any]] | None = None,
        headers: Mapping[str, str] | Callable[[], Mapping[str, str]] | None = None,
        sink: Callable[[aiohttp.ClientResponse], Any] | None = None,
    ) -> None:
        """Upload to or download from a presigned storage URL: no token, ever.

        ``body`` opens a fresh stream for each attempt; ``sink`` consumes a successful answer.
        ``headers`` may be a function, called for each attempt (a resumed download asks for a
        different ``Range`` each time). An upload is sent again after an error answer or a
        connection that never opened, but not after its answer was lost
        (`OutcomeUnknownError`). A URL that is not https (plain http is accepted on this
        machine only) is refused before anything is sent. A user's ``session=`` adds none of
        its default headers (nor any ``Authorization``) to these requests.
        """
        request = RequestInfo(method, _redact_query(url))
        problem = storage_url_problem(url)
        if problem is not None:
            raise StorageError(f"refused to {method} {request.url}: {problem}")

        async def send() -> None:
            extra = headers() if callable(headers) else headers
            asked = {"User-Agent": self._user_agent, **(extra or {})}
            asked.pop("Authorization", None)
            async with (body() if body else nullcontext()) as data, self.session.request(
                method, url, data=data, headers=asked, timeout=self._transfer_timeout,
                allow_redirects=False, read_bufsize=TRANSFER_READ_BUFFER,
                middlewares=self._storage_middlewares(asked),
            ) as resp:
                if resp.status >= 300:
                    status = await _status_error(resp, request)
                    raise StorageError(
                        f"storage answered {status.status_code}: {status.detail} ({request})",
                        status_code=status.status_code,
                        retry_after=parse_retry_after(resp.headers.get("Retry-After")))
                if sink is not None:
                    await sink(resp)

        await attempts(send, self.shared, self._storage_pause, method=method, url=request.url,
                       rules=STORAGE, idempotent=True, unsafe=body is not None)

    def _storage_middlewares(self, asked: Mapping[str, str]) -> tuple[_OnlyAsked, ...]:
        """None of the session's own middlewares, nor its default headers or ``auth``: only
        a session that has some (a user's ``session=``) needs them dropped."""
        session = self.session
        if not session.headers and session.auth is None:
            return ()
        return (_OnlyAsked(session.headers, asked),)


#: What an API request of the client's own session carries in place of the token: the token
#: itself is put in by `authorizing_request`, so no frame of aiohttp's ever holds it.
_ASK_FOR_TOKEN = "prolific-async: the client's token"


def authorizing_request(secret: Secret) -> type[aiohttp.ClientRequest]:
    """The request class of a client's own session: it puts the token in, in place of the
    marker an API request carries, as the request object is built (below aiohttp's request
    frame, whose locals hold only the marker). Storage requests carry no marker, so no token.

    A middleware did this before; aiohttp builds the chain of middlewares anew for every
    request, which cost a tenth of what a call costs with a thousand of them in flight.
    """

    class AuthorizedRequest(aiohttp.ClientRequest):
        #: Whose token it puts in (a `Secret`: its repr shows nothing).
        token = secret

        def update_headers(self, headers: Any) -> None:
            super().update_headers(headers)
            if self.headers.get("Authorization") == _ASK_FOR_TOKEN:
                self.headers["Authorization"] = "Token " + secret.reveal()

    return AuthorizedRequest


class _Authorize:
    """Adds the token at the last moment, below aiohttp's request frame.

    aiohttp's ``ClientSession._request`` keeps the request headers in a local; a traceback
    printed with its locals (``capture_locals``, rich's ``show_locals``, error reporters)
    after a cancellation would show them. Added here, the token lives only on the request
    object, whose repr shows no headers.
    """

    __slots__ = ("_token",)

    def __init__(self, token: Secret) -> None:
        self._token = token

    def __repr__(self) -> str:
        return "<Authorize token='***'>"

    def __call__(self, request: aiohttp.ClientRequest,
                 handler: ClientHandlerType) -> Awaitable[aiohttp.ClientResponse]:
        # A plain function handing on the handler's awaitable (aiohttp awaits what a
        # middleware returns): no coroutine of its own, and no frame left holding the token.
        request.headers["Authorization"] = "Token " + self._token.reveal()
        return handler(request)


class _OnlyAsked:
    """Drops a user session's default headers (and any ``Authorization``, e.g. from its
    ``auth=``) from a storage request: the presigned URL is the whole credential, and a
    storage host refuses, or worse logs, anything else."""

    __slots__ = ("_drop",)

    def __init__(self, defaults: Mapping[str, str], asked: Mapping[str, str]) -> None:
        kept = {name.lower() for name in asked}
        self._drop = [name for name in defaults if name.lower() not in kept] + ["Authorization"]

    async def __call__(self, request: aiohttp.ClientRequest,
                       handler: ClientHandlerType) -> aiohttp.ClientResponse:
        for name in self._drop:
            request.headers.popall(name, None)
        return await handler(request)


def _fits(resp: aiohttp.ClientResponse, cap: int) -> bool:
    """Whether a 2xx body may be read whole at once: without a content encoding aiohttp reads
    exactly Content-Length bytes, so a declared size within the cap is the lean path; any
    other body is read within the cap by `_read_within`."""
    size = resp.content_length
    return size is not None and size <= cap and "Content-Encoding" not in resp.headers


def _json_answer(raw: bytes, resp: aiohttp.ClientResponse, method: str, path: str) -> Any:
    """The JSON of a 2xx answer; anything else is a clear `UnexpectedResponseError` (not a
    string handed on to the models)."""
    try:
        return _jsonparse.loads(raw)  # looked up here: benchmarks/overhead.py swaps it
    except (ValueError, RecursionError):
        pass  # empty, another encoding json.loads detects, or not JSON: the path below says
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except RecursionError:
        request = RequestInfo(method, path)
        raise UnexpectedResponseError(
            f"{request} answered {resp.status} with JSON nested too deeply to read "
            f"({len(raw)} bytes)", body=None, request=request) from None
    except ValueError:
        request = RequestInfo(method, path)
        text = raw[:MAX_ERROR_BODY].decode("utf-8", "replace")
        kind = resp.headers.get("Content-Type", "no Content-Type")
        raise UnexpectedResponseError(
            f"{request} answered {resp.status} with a body that is not JSON ({kind}): "
            f"{truncate(describe_body(text) or repr(text[:40]), 200)}",
            body=text, request=request,
        ) from None


async def _read_within(resp: aiohttp.ClientResponse, method: str, path: str,
                       cap: int) -> bytes:
    """At most ``cap`` bytes of the body: one byte more and the connection is closed."""
    size = resp.content_length
    chunks: list[bytes] = []
    got = 0
    if size is None or size <= cap:
        async for chunk in resp.content.iter_any():
            got += len(chunk)
            if got > cap:
                break
            chunks.append(chunk)
    if (size is not None and size > cap) or got > cap:
        resp.close()  # the rest is never read: the connection cannot be reused
        request = RequestInfo(method, path)
        announced = f" (Content-Length {size})" if size is not None else ""
        raise UnexpectedResponseError(
            f"{request} answered {resp.status} with more than {cap} bytes{announced}: refused "
            "unread; if this answer is expected, raise Prolific(max_response_bytes=...)",
            body=None, request=request,
        )
    return b"".join(chunks)


def _decode(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # an error body is shown as text, however odd
        return raw.decode("utf-8", "replace")


async def _status_error(resp: aiohttp.ClientResponse, request: RequestInfo) -> APIStatusError:
    raw = await resp.content.read(MAX_ERROR_BODY)
    body = _decode(raw)
    if isinstance(body, str) and len(raw) == MAX_ERROR_BODY:
        body = body + "…"
    error = error_for_status(
        resp.status, resp.reason or "", body, request, headers=dict(resp.headers)
    )
    error.retry_after = parse_retry_after(resp.headers.get("Retry-After"))
    return error


def _redact_query(url: str) -> str:
    """Presigned URLs carry credentials in their query: never show it in messages."""
    return url.split("?", 1)[0]
