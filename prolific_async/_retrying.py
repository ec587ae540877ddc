"""Whether, and when, to send a request again: one pure decision and the one loop that obeys it.

`decide` is fed what went wrong (already an SDK error), the attempt number and whether the
client's retry budget has a token left, and answers a `RetryDecision` (wait this long, for this
reason) or None (give up: raise the error). It does no I/O and reads no clock: the jitter comes
in as ``spread``, in the spirit of hishel's pure state machine and procrastinate's
``RetryStrategy.get_retry_decision``.

`classify` turns what aiohttp raised into that SDK error, by `HostRules`: the API and the
presigned storage host fail in different words (an error answer from storage is a
`StorageError`; a lost answer to something that may have changed the server is an
`OutcomeUnknownError`, never repeated), but the same loop, `attempts`, carries out both.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
import anyio
import attrs

from ._config import RetryPolicy
from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    OutcomeUnknownError,
    RequestInfo,
    StorageError,
    is_paced_refusal,
    is_transient,
    truncate,
)
from ._observe import Hooks, RequestEvent
from ._stats import ClientStats

if TYPE_CHECKING:
    from ._channel import RateGate

__all__: list[str] = []  # nothing public: the decisions show through RetryPolicy

logger = logging.getLogger("prolific_async")

T = TypeVar("T")

#: A 429 without a usable Retry-After pauses every request to that host this long.
DEFAULT_RATE_PAUSE = 1.0
#: Connection failures that provably sent nothing: the socket never opened.
UNSENT = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
#: What a send may raise that is not yet an SDK error.
RAW_FAILURES = (aiohttp.ClientError, asyncio.TimeoutError)


@attrs.frozen
class RetryDecision:
    """Send again after ``delay`` seconds; ``reason`` says why (``"429"``, ``"timeout"``...)."""

    delay: float
    reason: str


def reason_of(error: BaseException) -> str:
    """A short word for what went wrong, for hooks and logs."""
    status = getattr(error, "status_code", None)
    if status is not None:
        return str(status)
    return "timeout" if isinstance(error, APITimeoutError) else "connection"


def decide(error: BaseException, attempt: int, *, idempotent: bool, budget_left: bool,
           policy: RetryPolicy, spread: float) -> RetryDecision | None:
    """Whether to send again after attempt number ``attempt`` (1 = the first) failed.

    ``error`` is what `classify` made of the failure. A request that is not ``idempotent``
    is sent again only after a 429 or a connection that never opened (a lost answer to it is
    an `OutcomeUnknownError`, which is not transient). A server's ``Retry-After`` replaces
    the jittered backoff (``spread`` in [0, 1) places it), unless it asks for longer than
    ``policy.max_retry_after``. No token left in the budget: give up.

    Example::

        decide(InternalServerError(...), 1, idempotent=True, budget_left=True,
               policy=RetryPolicy(), spread=0.5)   # RetryDecision(delay=0.25, reason="503")
    """
    if attempt >= policy.attempts or not budget_left or not is_transient(error):
        return None
    status = getattr(error, "status_code", None)
    if not idempotent and status not in (None, 429):
        return None  # an error answer to a create: the server may have acted before failing
    hint = getattr(error, "retry_after", None)
    if hint is not None:
        if hint > policy.max_retry_after:
            return None  # the caller decides whether to wait that long
        return RetryDecision(delay=hint, reason=reason_of(error))
    cap = min(policy.wait_max, policy.wait_initial * 2.0 ** min(attempt - 1, 64))
    return RetryDecision(delay=cap * spread, reason=reason_of(error))


@attrs.frozen
class HostRules:
    """How failures from one kind of host read, as data for `classify` and `attempts`.

    ``lost`` is the advice an `OutcomeUnknownError` gives when the answer to a request that
    may have changed the server was lost. (Each host's error answers are built by the
    transport: `APIStatusError` for the API, `StorageError` for storage; each has its own
    `Pause`, and only the API's 429s slow the client's polls.)
    """

    name: str
    lost: str


API = HostRules(
    name="api",
    lost="the server may have carried it out: check before trying again (e.g. find the "
         "batch by name, the study by its batch)")
STORAGE = HostRules(
    name="storage",
    lost="storage may have kept the file: check the dataset's status before uploading again")


def classify(failure: BaseException, request: RequestInfo, *, unsafe: bool, rules: HostRules,
             summary: str = "") -> Exception:
    """The SDK error for a failed attempt: an error answer is kept as it is; a connection
    failure becomes `APIConnectionError` (`APITimeoutError`), or `OutcomeUnknownError` when
    the request was ``unsafe`` to repeat and may have reached the server."""
    if isinstance(failure, (APIStatusError, StorageError)):
        return failure
    reason = "timed out" if isinstance(failure, asyncio.TimeoutError) else truncate(
        str(failure) or type(failure).__name__, 200)
    error: APIConnectionError
    if unsafe and not isinstance(failure, UNSENT):
        error = OutcomeUnknownError(f"the answer to {request} was lost ({reason}); {rules.lost}",
                                    request=request, body_summary=summary)
    elif isinstance(failure, asyncio.TimeoutError):
        error = APITimeoutError(f"request timed out ({request})", request=request)
    else:
        error = APIConnectionError(f"connection failed: {reason} ({request})", request=request)
    # aiohttp's frames hold the request's locals: keep the cause's type and message only.
    error.__cause__ = failure.with_traceback(None)
    return error


class RetryBudget:
    """A token bucket shared by every request of one client: each retry spends a token."""

    def __init__(self, capacity: float, refill_per_second: float) -> None:
        self._capacity = capacity
        self._refill = refill_per_second
        self._tokens = capacity
        self._stamp = time.monotonic()

    def has_token(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._refill)
        self._stamp = now
        return self._tokens >= 1

    def spend(self) -> None:
        self._tokens -= 1

    def try_spend(self) -> bool:
        if self.has_token():
            self.spend()
            return True
        return False


class Pause:
    """When a host asked (429) that nobody calls it before then: shared by every caller."""

    __slots__ = ("until",)

    def __init__(self) -> None:
        self.until = 0.0

    def hold(self, hint: float | None, cap: float) -> None:
        pause = DEFAULT_RATE_PAUSE if hint is None else min(hint, cap)
        self.until = max(self.until, time.monotonic() + pause)

    async def wait(self, stats: ClientStats) -> None:
        wait = self.until - time.monotonic()
        if wait > 0:
            stats.paused += wait
            await anyio.sleep(wait)
        else:
            self.until = 0.0


@attrs.define
class Attempts:
    """What the loop needs besides the request: shared by every call of one client."""

    policy: RetryPolicy
    budget: RetryBudget
    stats: ClientStats
    draw: Callable[[], float]
    hooks: Hooks | None = None
    #: Told of every 429: the client's poll rate slows down with it.
    throttled: Callable[[], None] | None = None
    #: The client's poll gate: while a 429 has slowed it, every API request passes it
    #: (`Transport._send`).
    gate: RateGate | None = None


async def attempts(send: Callable[[], Awaitable[T]], shared: Attempts, pause: Pause, *,
                   method: str, url: str, rules: HostRules, idempotent: bool, unsafe: bool,
                   policy: RetryPolicy | None = None, body: Any = None) -> T:
    """Call ``send`` until it returns, or `decide` says to give up (then raise its error).

    ``send`` raises what aiohttp raises, or an error answer already built. ``unsafe``: a lost
    answer may mean the server acted. ``policy`` overrides the client's (one attempt, for a
    poll); ``body`` is summarised in an `OutcomeUnknownError`. The first attempt costs one
    ``try`` more than calling ``send`` directly.

    A 429 with a ``Retry-After`` is not charged to the retry budget (`is_paced_refusal`).
    It still counts as an attempt.
    """
    policy = policy or shared.policy
    hooks = shared.hooks
    number = 1
    while True:
        if pause.until:
            await pause.wait(shared.stats)
        shared.stats.requests += 1
        if hooks is not None:
            hooks.request(RequestEvent(method, url, number))
        started = time.monotonic() if hooks is not None else 0.0  # for hooks only
        try:
            result = await send()
        except (*RAW_FAILURES, APIStatusError, StorageError) as failure:
            error = classify(failure, RequestInfo(method, url), unsafe=unsafe, rules=rules,
                             summary=summarise(body) if unsafe else "")
        else:
            if hooks is not None:
                hooks.response(RequestEvent(method, url, number, status=_status(result),
                                            elapsed=time.monotonic() - started))
            return result
        status = getattr(error, "status_code", None)
        hinted = is_paced_refusal(error)
        if status == 429:
            shared.stats.rate_limited += 1
            pause.hold(getattr(error, "retry_after", None), policy.max_retry_after)
            if shared.throttled is not None and rules is API:
                shared.throttled()
        decision = decide(error, number, idempotent=idempotent,
                          budget_left=hinted or shared.budget.has_token(), policy=policy,
                          spread=shared.draw())
        if hooks is not None:
            hooks.response(RequestEvent(
                method, url, number, status=status, elapsed=time.monotonic() - started,
                retry_reason=decision.reason if decision else None, error=type(error).__name__))
        logger.debug("%s %s -> %s (attempt %d)", method, url, reason_of(error), number)
        if decision is None:
            # Raised outside the except block, so no aiohttp frame rides along as context.
            raise error
        if not hinted:
            shared.budget.spend()
        logger.debug("%s %s: retrying in %.3f s", method, url, decision.delay)
        await anyio.sleep(decision.delay)
        number += 1
        shared.stats.retries += 1


def summarise(body: Any) -> str:
    """What was sent, short enough for a message: the keys and the name, never whole bodies."""
    if not isinstance(body, dict):
        return ""
    name = body.get("name")
    keys = ", ".join(sorted(body))
    return truncate(f"name={name!r}; fields: {keys}" if name else f"fields: {keys}", 200)


def _status(result: Any) -> int | None:
    status = getattr(result, "status", None)
    return status if isinstance(status, int) else None
