"""The one request path every API call takes.

It adds the ``Authorization`` and ``User-Agent`` headers, applies timeouts, retries with
exponential backoff and full jitter (honouring ``Retry-After``), spends the client-wide retry
budget, maps error answers to exceptions and decodes JSON. Presigned storage URLs (uploads,
exports, reports) go through `Transport.transfer`, which never adds the token.

The success path is kept lean on purpose: one attempt inline, no closure, no extra coroutine,
and the objects an error message needs (`RequestInfo`) built only when an error happens. The
retry loop starts only once the first attempt has failed.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import datetime, timezone
from typing import Any, Literal

import aiohttp
import anyio

from ._config import RetryPolicy, Timeouts
from ._errors import (
    TRANSIENT_STATUSES,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    OutcomeUnknownError,
    RateLimitError,
    RequestInfo,
    StorageError,
    UnexpectedResponseError,
    describe_body,
    error_for_status,
    truncate,
)
from ._secret import Secret
from ._stats import ClientStats
from ._urls import storage_url_problem

__all__ = ["MAX_RESPONSE_BODY", "Response", "RetryBudget", "Transport", "parse_retry_after"]

logger = logging.getLogger("prolific_async")

#: Error bodies beyond this are not read whole: a message needs 500 characters of them.
MAX_ERROR_BODY = 64 * 1024
#: A 2xx API answer larger than this is refused unread (``Prolific(max_response_bytes=)``).
MAX_RESPONSE_BODY = 64 * 1024 * 1024
#: Storage bodies are large: with aiohttp's 64 KiB read buffer the socket stalled while the
#: download wrote its last MiB to disk, halving throughput (benchmarks/archive.py).
TRANSFER_READ_BUFFER = 1 << 20
#: A 429 without a usable Retry-After pauses the whole client this long.
DEFAULT_RATE_PAUSE = 1.0

#: Connection failures that provably sent nothing: the socket never opened.
_UNSENT = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)


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


class RetryBudget:
    """A token bucket shared by every request of one client: each retry spends a token."""

    def __init__(self, capacity: float, refill_per_second: float) -> None:
        self._capacity = capacity
        self._refill = refill_per_second
        self._tokens = capacity
        self._stamp = time.monotonic()

    def try_spend(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._refill)
        self._stamp = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


class Transport:
    """Sends requests for one client. ``request`` talks to the API, ``transfer`` to storage."""

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
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self._user_agent = user_agent
        # The token stays a Secret here; the header is built from it at send time only.
        self._token = token
        self._headers = {"User-Agent": user_agent, "Accept": "application/json"}
        self.timeouts = timeouts
        self.retry = retry
        self.stats = stats
        self.max_body = max_body
        self.budget = RetryBudget(retry.budget, retry.budget_refill_per_second)
        self._rng = rng or random.Random()
        #: When the server asked (429 + Retry-After) that nobody calls before then.
        self._paused_until = 0.0
        self._api_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=timeouts.connect, sock_read=timeouts.read
        )
        self._transfer_timeout = aiohttp.ClientTimeout(
            total=timeouts.transfer, sock_connect=timeouts.connect, sock_read=timeouts.read
        )

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r})"

    def __reduce__(self) -> Any:
        raise TypeError("a Transport cannot be pickled: it holds a session and the token")

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json_body: Any = None,
        idempotent: bool = True,
        retry: bool = True,
        content: tuple[str, bytes] | None = None,
    ) -> Response:
        """Call the API; ``path`` starts with ``/api/v1/`` and is already quoted.

        ``idempotent=False`` (a request that creates something) is repeated only when the
        server provably did not act on it: the connection never opened, or it answered 429.
        An answer lost after sending raises `OutcomeUnknownError`. ``retry=False`` makes one
        attempt (pollers retry on their own schedule). ``content`` is a body that is not JSON,
        as its content type and bytes (the NDJSON of a datapoints append).
        """
        headers = _Headers(self._headers)
        headers["Authorization"] = "Token " + self._token.reveal()
        data: bytes | None = None
        if json_body is not None:
            data = json.dumps(json_body, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        elif content is not None:
            headers["Content-Type"], data = content
        if self._paused_until:
            await self._wait_for_pause()
        # The first attempt inline (the same steps as `_attempt`, without its coroutine):
        # most calls succeed and should pay for nothing else.
        started = time.monotonic()
        self.stats.requests += 1
        outcome: APIStatusError | aiohttp.ClientError | asyncio.TimeoutError
        try:
            async with self.session.request(
                method, self.base_url + path, params=params, data=data, headers=headers,
                timeout=self._api_timeout, allow_redirects=False,
            ) as resp:
                if resp.status < 300:
                    raw = (await resp.read() if _fits(resp, self.max_body)
                           else await _read_within(resp, method, path, self.max_body))
                    if logger.isEnabledFor(logging.DEBUG):
                        logger.debug("%s %s -> %d in %.1f ms", method, path, resp.status,
                                     (time.monotonic() - started) * 1000)
                    return Response(resp.status, resp.headers,
                                    _json_answer(raw, resp, method, path), method, path)
                outcome = await _status_error(resp, RequestInfo(method, path))
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            outcome = exc
        return await self._retry(method, path, params, data, headers, outcome, json_body,
                                 idempotent=idempotent, attempts=1 if not retry else None)

    async def _attempt(
        self, method: str, path: str, params: Mapping[str, str | int] | None,
        data: bytes | None, headers: dict[str, str],
    ) -> Response | APIStatusError:
        # Redirects are not followed, so the token reaches no URL but the one built here;
        # a 3xx is then an error like any other.
        async with self.session.request(
            method, self.base_url + path, params=params, data=data, headers=headers,
            timeout=self._api_timeout, allow_redirects=False,
        ) as resp:
            if resp.status >= 300:
                return await _status_error(resp, RequestInfo(method, path))
            raw = (await resp.read() if _fits(resp, self.max_body)
                   else await _read_within(resp, method, path, self.max_body))
            return Response(resp.status, resp.headers, _json_answer(raw, resp, method, path),
                            method, path)

    async def _retry(
        self, method: str, path: str, params: Mapping[str, str | int] | None,
        data: bytes | None, headers: dict[str, str], first: BaseException | APIStatusError,
        json_body: Any, *, idempotent: bool, attempts: int | None,
    ) -> Response:
        policy = self.retry
        total = attempts or policy.attempts
        request = RequestInfo(method, path)
        outcome: Response | BaseException = first
        number = 1
        while True:
            assert not isinstance(outcome, Response)
            logger.debug("%s -> %s (attempt %d)", request,
                         outcome.status_code if isinstance(outcome, APIStatusError)
                         else type(outcome).__name__, number)
            error, hint = self._classify(outcome, request, json_body, idempotent=idempotent)
            if number >= total or not self.budget.try_spend():
                raise error from _cause(outcome, error)
            delay = hint if hint is not None else self._backoff(number)
            logger.debug("%s: retrying in %.3f s", request, delay)
            await anyio.sleep(delay)
            if self._paused_until:
                await self._wait_for_pause()
            number += 1
            self.stats.requests += 1
            self.stats.retries += 1
            try:
                outcome = await self._attempt(method, path, params, data, headers)
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                outcome = exc
            if isinstance(outcome, Response):
                logger.debug("%s -> ok (attempt %d)", request, number)
                return outcome

    def _classify(
        self, outcome: BaseException, request: RequestInfo, json_body: Any, *, idempotent: bool,
    ) -> tuple[Exception, float | None]:
        """The error to raise for ``outcome``, and the server's wait hint when it may be
        retried. An error that must not be retried is raised from here."""
        if isinstance(outcome, APIStatusError):
            hint = parse_retry_after(outcome.headers.get("Retry-After"))
            if isinstance(outcome, RateLimitError):
                outcome.retry_after = hint
                self.stats.rate_limited += 1
                self._pause(hint)
            retryable = outcome.status_code == 429 or (
                idempotent and outcome.status_code in TRANSIENT_STATUSES
            )
            if not retryable or (hint is not None and hint > self.retry.max_retry_after):
                raise outcome
            return outcome, hint
        wrapped = _connection_error(outcome, request)
        if not idempotent and not isinstance(outcome, _UNSENT):
            # The request may have reached the server: repeating it could create twice.
            raise OutcomeUnknownError(
                f"the answer to {request} was lost ({_reason(outcome)}); the server may have "
                "carried it out: check before trying again (e.g. find the batch by name, the "
                "study by its batch)",
                request=request, body_summary=_summary(json_body),
            ) from _cause(outcome, None)
        return wrapped, None

    def _pause(self, hint: float | None) -> None:
        # A 429 seen by one caller slows every caller of this client: they share one quota.
        pause = DEFAULT_RATE_PAUSE if hint is None else min(hint, self.retry.max_retry_after)
        self._paused_until = max(self._paused_until, time.monotonic() + pause)

    async def _wait_for_pause(self) -> None:
        wait = self._paused_until - time.monotonic()
        if wait > 0:
            self.stats.paused += wait
            await anyio.sleep(wait)
        else:
            self._paused_until = 0.0

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
        machine only) is refused before anything is sent.
        """
        request = RequestInfo(method, _redact_query(url))
        problem = storage_url_problem(url)
        if problem is not None:
            raise StorageError(f"refused to {method} {request.url}: {problem}")
        policy = self.retry
        for number in range(1, policy.attempts + 1):
            self.stats.requests += 1
            if number > 1:
                self.stats.retries += 1
            extra = headers() if callable(headers) else headers
            send_headers = {"User-Agent": self._user_agent, **(extra or {})}
            send_headers.pop("Authorization", None)
            error: Exception
            try:
                async with (body() if body else nullcontext()) as data, self.session.request(
                    method, url, data=data, headers=send_headers,
                    timeout=self._transfer_timeout, allow_redirects=False,
                    read_bufsize=TRANSFER_READ_BUFFER,
                ) as resp:
                    if resp.status < 300:
                        if sink is not None:
                            await sink(resp)
                        return
                    status = await _status_error(resp, request)
                    if status.status_code not in TRANSIENT_STATUSES:
                        raise StorageError(
                            f"storage answered {status.status_code}: {status.detail} "
                            f"({request})",
                            status_code=status.status_code,
                        )
                    error = status
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                if body is not None and not isinstance(exc, _UNSENT):
                    # The file may have been stored, and storing it again may process it
                    # again (its rows twice): like a lost create, the caller looks first.
                    raise OutcomeUnknownError(
                        f"the answer to {request} was lost ({_reason(exc)}); storage may have "
                        "kept the file: check the dataset's status before uploading again",
                        request=request) from exc.with_traceback(None)
                error = _connection_error(exc, request)
                error.__cause__ = exc.with_traceback(None)
            logger.debug("%s -> %s (attempt %d)", request, error, number)
            if number == policy.attempts or not self.budget.try_spend():
                raise error
            await anyio.sleep(self._backoff(number))

    def _backoff(self, attempt: int) -> float:
        cap = min(self.retry.wait_max, self.retry.wait_initial * 2 ** (attempt - 1))
        return self._rng.uniform(0, cap)


class _Headers(dict[str, str]):
    """Request headers that never show the token (tracebacks with locals print reprs)."""

    def __repr__(self) -> str:
        return repr({k: "***" if k == "Authorization" else v for k, v in self.items()})


def _cause(outcome: BaseException, error: BaseException | None) -> BaseException | None:
    """What to chain an error to. A connection error's own traceback runs through aiohttp's
    frames, whose locals hold the request headers: keep its type and message, not its
    frames."""
    if error is outcome:
        return outcome.__cause__
    return outcome.with_traceback(None)


def _fits(resp: aiohttp.ClientResponse, cap: int) -> bool:
    """Whether a 2xx body may be read whole at once: without a content encoding aiohttp reads
    exactly Content-Length bytes, so a declared size within the cap is the lean path; any
    other body is read within the cap by `_read_within`."""
    size = resp.content_length
    return size is not None and size <= cap and "Content-Encoding" not in resp.headers


def _json_answer(raw: bytes, resp: aiohttp.ClientResponse, method: str, path: str) -> Any:
    """The JSON of a 2xx answer; anything else is a clear `UnexpectedResponseError` (not a
    string handed on to the models)."""
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
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
    except ValueError:
        return raw.decode("utf-8", "replace")


async def _status_error(resp: aiohttp.ClientResponse, request: RequestInfo) -> APIStatusError:
    raw = await resp.content.read(MAX_ERROR_BODY)
    body = _decode(raw)
    if isinstance(body, str) and len(raw) == MAX_ERROR_BODY:
        body = body + "…"
    return error_for_status(
        resp.status, resp.reason or "", body, request, headers=dict(resp.headers)
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    return truncate(str(exc) or type(exc).__name__, 200)


def _connection_error(exc: BaseException, request: RequestInfo) -> APIConnectionError:
    if isinstance(exc, asyncio.TimeoutError):
        return APITimeoutError(f"request timed out ({request})", request=request)
    return APIConnectionError(f"connection failed: {_reason(exc)} ({request})", request=request)


def _summary(body: Any) -> str:
    """What was sent, short enough for a message: the keys and the name, never whole bodies."""
    if not isinstance(body, dict):
        return ""
    name = body.get("name")
    keys = ", ".join(sorted(body))
    return truncate(f"name={name!r}; fields: {keys}" if name else f"fields: {keys}", 200)


def _redact_query(url: str) -> str:
    """Presigned URLs carry credentials in their query: never show it in messages."""
    return url.split("?", 1)[0]
