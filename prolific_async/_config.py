"""Frozen configuration objects: how long to wait, how often to retry, how to poll.

All three are plain keyword-argument attrs classes with sane defaults, so a caller only names
what they change: ``RetryPolicy(attempts=3)``, ``PollPolicy(deadline=60)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from ._errors import ConfigurationError

__all__ = ["PollPolicy", "RetryPolicy", "Timeouts"]


# Every bad setting is a ConfigurationError (a ValueError too) naming the class and field.
def _check(ok: Callable[[float], bool], rule: str) -> Callable[[Any, Any, Any], None]:
    def check(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not ok(value):
            raise ConfigurationError(
                f"{type(instance).__name__}.{attribute.name} must be {rule}, got {value!r}")
    return check


_positive = _check(lambda v: v > 0, "a number > 0")
_non_negative = _check(lambda v: v >= 0, "a number >= 0")
_at_least_one = _check(lambda v: v >= 1 and v == int(v), "a whole number >= 1")
_whole = _check(lambda v: v >= 0 and v == int(v), "a whole number >= 0")
_growth = _check(lambda v: v >= 1, "a number >= 1")
_fraction = _check(lambda v: 0 <= v <= 0.5, "a number from 0 to 0.5")


@attrs.frozen(kw_only=True)
class Timeouts:
    """Per-request timeouts, in seconds.

    ``connect`` bounds opening a socket to the API, ``read`` the wait for the server's next
    bytes; neither counts time spent queued for a free connection, so a thousand concurrent
    calls on a 100-connection pool do not time out on a healthy server. ``total`` bounds a
    whole API call attempt, from asking for a connection to the last byte of the answer: a
    server that trickles a byte at a time resets ``read`` on every byte, never ``total``.
    ``transfer`` is the total of a whole upload or download to a presigned URL, which may be
    large, where ``read`` catches a stalled transfer long before it. Each retry gets fresh
    timeouts; a watch's deadline also cuts a poll in flight.

    By default ``read`` equals ``total``, so an API call is bounded by ``total`` alone (a
    ``read`` no shorter than ``total`` cannot fire first, and is not armed: it would cost
    every call two timers). Set a shorter ``read`` to give up sooner on a server gone silent.

    Example::

        Prolific(timeouts=Timeouts(total=20))
    """

    connect: float = attrs.field(default=10.0, validator=_positive)
    read: float = attrs.field(default=60.0, validator=_positive)
    total: float = attrs.field(default=60.0, validator=_positive)
    transfer: float = attrs.field(default=600.0, validator=_positive)


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How the transport retries a failed request.

    Backoff is exponential with full jitter: attempt *n* waits a uniform random time in
    ``[0, min(wait_max, wait_initial * 2**n)]``. A ``Retry-After`` from the server replaces the
    jittered wait when it is at most ``max_retry_after``; a longer one is not waited out (the
    error is raised with ``retry_after`` set, so the caller decides).

    ``budget`` and ``budget_refill_per_second`` form one token bucket per client: each retry
    spends a token. When a thousand pollers hit a failing server together, the bucket empties
    and they fail fast instead of multiplying the load.

    Example::

        Prolific(retry=RetryPolicy(attempts=8, wait_max=30))
        Prolific(retry=RetryPolicy.disabled())
    """

    attempts: int = attrs.field(default=5, validator=_at_least_one)
    wait_initial: float = attrs.field(default=0.5, validator=_non_negative)
    wait_max: float = attrs.field(default=20.0, validator=_non_negative)
    max_retry_after: float = attrs.field(default=60.0, validator=_non_negative)
    budget: float = attrs.field(default=100.0, validator=_non_negative)
    budget_refill_per_second: float = attrs.field(default=10.0, validator=_non_negative)

    @classmethod
    def disabled(cls) -> RetryPolicy:
        return cls(attempts=1)


@attrs.frozen(kw_only=True)
class PollPolicy:
    """How a watcher polls an asynchronous job.

    The first poll is immediate; then the delay (from the start of one poll to the start of
    the next) starts at ``initial``, grows by ``multiplier`` each poll up to ``ceiling``, and
    is spread by ±``jitter`` (a fraction, never beyond the ceiling) so many watchers do not
    poll in lock-step. A ``Retry-After`` hint from the server is obeyed, but
    never beyond ``ceiling * 4``. Every watch ends by ``deadline`` seconds (finite by default)
    with `PollTimeout`. Up to ``max_poll_errors`` consecutive transient errors (connection,
    429, 5xx) are tolerated before the last one is raised.

    The defaults beat the usual fixed 3-second poll on both ends: a 2-second job is seen
    about 0.3 s after it finishes (3-second polling: about 1.1 s), and a 30-minute job costs
    under a quarter of the requests, never seen more than ``ceiling`` late (see
    ``benchmarks/polling.py``).
    """

    initial: float = attrs.field(default=0.25, validator=_positive)
    multiplier: float = attrs.field(default=1.3, validator=_growth)
    ceiling: float = attrs.field(default=15.0, validator=_positive)
    jitter: float = attrs.field(default=0.1, validator=_fraction)
    deadline: float = attrs.field(default=15 * 60.0, validator=_positive)
    max_poll_errors: int = attrs.field(default=5, validator=_whole)

    def __attrs_post_init__(self) -> None:
        if self.ceiling < self.initial:
            raise ConfigurationError(
                f"PollPolicy.ceiling ({self.ceiling}) must be >= initial ({self.initial})")
