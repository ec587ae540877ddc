"""The one request path every API call takes.

It adds the ``Authorization`` and ``User-Agent`` headers, applies timeouts, retries with
exponential backoff and full jitter (honouring ``Retry-After``), spends the client-wide retry
budget, maps error answers to exceptions and decodes JSON. Presigned storage URLs (uploads,
exports, reports) go through `Transport.transfer`, which never adds the token.
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
import attrs

from ._config import RetryPolicy, Timeouts
from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    RateLimitError,
    RequestInfo,
    StorageError,
    error_for_status,
    truncate,
)

__all__ = ["Response", "RetryBudget", "Transport", "parse_retry_after"]

logger = logging.getLogger("prolific_async")

#: Status codes worth another attempt: the server was overloaded or a proxy failed.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Error bodies beyond this are not read whole: a message needs 500 characters of them.
MAX_ERROR_BODY = 64 * 1024

#: ``"always"``: the request may be repeated (GET, PUT, setup, export request).
#: ``"unsent"``: creates something; repeat only when the server provably did not act on it:
#: the connection was never made, or the server answered 429.
#: ``"never"``: one attempt; the caller retries (pollers do, on their own schedule).
RetryMode = Literal["always", "unsent", "never"]


@attrs.frozen
class Response:
    status: int
    headers: Mapping[str, str]
    data: Any
    request: RequestInfo


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
    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        base_url: str,
        token: str,
        user_agent: str,
        timeouts: Timeouts,
        retry: RetryPolicy,
        rng: random.Random | None = None,
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self._user_agent = user_agent
        # Built once: the token lives in these two dicts and nowhere else in the transport.
        self._headers = {
            "Authorization": f"Token {token}",
            "User-Agent": user_agent,
            "Accept": "application/json",
        }
        self._json_headers = {**self._headers, "Content-Type": "application/json"}
        self.timeouts = timeouts
        self.retry = retry
        self.budget = RetryBudget(retry.budget, retry.budget_refill_per_second)
        self._rng = rng or random.Random()
        self._api_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=timeouts.connect, sock_read=timeouts.read
        )
        self._transfer_timeout = aiohttp.ClientTimeout(
            total=timeouts.transfer, sock_connect=timeouts.connect, sock_read=timeouts.read
        )

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r})"

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json_body: Any = None,
        retry: RetryMode = "always",
    ) -> Response:
        """Call the API; ``path`` starts with ``/api/v1/`` and is already quoted."""
        url = self.base_url + path
        request = RequestInfo(method, path)
        headers = self._headers
        data: bytes | None = None
        if json_body is not None:
            data = json.dumps(json_body, separators=(",", ":")).encode()
            headers = self._json_headers

        async def attempt() -> Response:
            # Redirects are not followed, so the token reaches no URL but the one built here;
            # a 3xx is then an error like any other.
            async with self.session.request(
                method, url, params=params, data=data, headers=headers,
                timeout=self._api_timeout, allow_redirects=False,
            ) as resp:
                if resp.status >= 300:
                    raise await _status_error(resp, request)
                raw = await resp.read()
                return Response(resp.status, resp.headers, _decode(raw), request)

        response: Response = await self._with_retries(attempt, request, retry)
        return response

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
        different ``Range`` each time).
        """
        request = RequestInfo(method, _redact_query(url))

        async def attempt() -> None:
            extra = headers() if callable(headers) else headers
            send_headers = {"User-Agent": self._user_agent, **(extra or {})}
            send_headers.pop("Authorization", None)
            async with (body() if body else nullcontext()) as data, self.session.request(
                method, url, data=data, headers=send_headers,
                timeout=self._transfer_timeout, allow_redirects=False,
            ) as resp:
                if resp.status >= 300:
                    error = await _status_error(resp, request)
                    if error.status_code in RETRY_STATUSES:
                        raise error
                    raise StorageError(
                        f"storage answered {error.status_code}: {error.detail} ({request})",
                        status_code=error.status_code,
                    )
                if sink is not None:
                    await sink(resp)

        await self._with_retries(attempt, request, "always")

    async def _with_retries(
        self, attempt: Callable[[], Any], request: RequestInfo, mode: RetryMode
    ) -> Any:
        policy = self.retry
        attempts = 1 if mode == "never" else policy.attempts
        for number in range(1, attempts + 1):
            started = time.monotonic()
            try:
                result = await attempt()
            except APIStatusError as exc:
                logger.debug(
                    "%s -> %d in %.1f ms (attempt %d)", request, exc.status_code,
                    (time.monotonic() - started) * 1000, number,
                )
                hint = parse_retry_after(exc.headers.get("Retry-After"))
                if isinstance(exc, RateLimitError):
                    exc.retry_after = hint
                retryable = exc.status_code == 429 or (
                    mode == "always" and exc.status_code in RETRY_STATUSES
                )
                if not retryable:
                    raise
                if hint is not None and hint > policy.max_retry_after:
                    raise
                error: Exception = exc
                cause: BaseException | None = exc.__cause__
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                wrapped = _connection_error(exc, request)
                logger.debug("%s -> %s (attempt %d)", request, wrapped, number)
                # A connect failure provably sent nothing; anything later might have been acted on.
                if mode != "always" and not isinstance(exc, aiohttp.ClientConnectorError):
                    raise wrapped from exc
                hint = None
                error, cause = wrapped, exc
            else:
                if logger.isEnabledFor(logging.DEBUG):
                    logger.debug("%s -> ok in %.1f ms (attempt %d)", request,
                                 (time.monotonic() - started) * 1000, number)
                return result

            if number == attempts or not self.budget.try_spend():
                raise error from cause
            delay = hint if hint is not None else self._backoff(number)
            logger.debug("%s: retrying in %.3f s", request, delay)
            await anyio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int) -> float:
        cap = min(self.retry.wait_max, self.retry.wait_initial * 2 ** (attempt - 1))
        return self._rng.uniform(0, cap)


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


def _connection_error(exc: BaseException, request: RequestInfo) -> APIConnectionError:
    if isinstance(exc, asyncio.TimeoutError):
        return APITimeoutError(f"request timed out ({request})", request=request)
    text = truncate(str(exc) or type(exc).__name__, 200)
    return APIConnectionError(f"connection failed: {text} ({request})", request=request)


def _redact_query(url: str) -> str:
    """Presigned URLs carry credentials in their query: never show it in messages."""
    return url.split("?", 1)[0]
