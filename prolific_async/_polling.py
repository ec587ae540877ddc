"""Polling asynchronous jobs: pure decisions first, then the one async generator built on them.

The first half has no I/O (in the manner of hishel's ``_spec``): which category a status falls
in for each kind of job, and how long to wait before the next poll. It is tested on its own.

The second half is `transitions`, the async generator inside the `Watch` every ``*.watch*``
method returns. Watchers of the same resource share a `_Channel`, so two watchers of one batch
cost one request per tick: whichever watcher is due first polls, and the others take its answer.
"""

from __future__ import annotations

import enum
import logging
import random
from collections.abc import AsyncGenerator, Awaitable, Callable
from datetime import datetime, timezone
from types import TracebackType
from typing import Any, Generic, TypeVar

import anyio
import attrs

from ._config import PollPolicy
from ._errors import (
    APIConnectionError,
    APIStatusError,
    PollError,
    PollTimeout,
    RateLimitError,
    ResourceFailed,
)

__all__ = [
    "KINDS",
    "Watch",
    "Category",
    "JobKind",
    "Transition",
    "WatchSpec",
    "categorize",
    "next_delay",
    "transitions",
]

logger = logging.getLogger("prolific_async.polling")

#: Every poll sleeps at least this long, whatever a policy or server says: no hot loops.
MIN_DELAY = 0.001
#: A server's Retry-After is obeyed, but never beyond this many ceilings.
HINT_CEILINGS = 4.0

S = TypeVar("S")


class Category(enum.Enum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    UNKNOWN = "unknown"


@attrs.frozen
class JobKind:
    """One kind of asynchronous job and what its statuses mean."""

    name: str
    pending: frozenset[str]
    done: frozenset[str]
    failed: frozenset[str]
    #: What to tell a caller whose job failed.
    remedy: str = ""

    def categorize(self, status: str) -> Category:
        if status in self.pending:
            return Category.PENDING
        if status in self.done:
            return Category.DONE
        if status in self.failed:
            return Category.FAILED
        return Category.UNKNOWN


_V3 = {"pending": frozenset({"UNINITIALISED", "PROCESSING"}), "done": frozenset({"READY"}),
       "failed": frozenset({"ERROR"})}
_EXPORT = {"pending": frozenset({"generating"}), "done": frozenset({"complete"}),
           "failed": frozenset({"failed"})}
_EXPORT_REMEDY = "a failed export is never retried by the server: request a new export"

KINDS: dict[str, JobKind] = {
    kind.name: kind
    for kind in (
        JobKind("dataset", **_V3, remedy="check the uploaded file and upload it again"),
        JobKind("batch", **_V3, remedy="check the batch's dataset and instructions"),
        JobKind(
            "dataset_import",
            pending=frozenset({"uninitialised", "queued", "processing"}),
            # "partial": some records were rejected, the rest are in (the CLI ends there too).
            done=frozenset({"complete", "partial"}),
            # "pending_schema" waits on the user, so polling longer cannot help.
            failed=frozenset({"failed", "pending_schema"}),
            remedy="see the import's errors and reason",
        ),
        JobKind("batch_export", **_EXPORT, remedy=_EXPORT_REMEDY),
        JobKind("collection_export", **_EXPORT, remedy=_EXPORT_REMEDY),
        JobKind(
            "study",
            pending=frozenset({"UNPUBLISHED", "SCHEDULED", "ACTIVE", "PAUSED"}),
            # Data collection is over once the study awaits review (or is completed).
            done=frozenset({"AWAITING REVIEW", "COMPLETED"}),
            failed=frozenset(),
        ),
        JobKind(
            "batch_sync",
            pending=frozenset({"queued", "processing"}),
            done=frozenset({"complete"}),
            failed=frozenset({"failed"}),
            remedy="see the sync's reason",
        ),
    )
}


def categorize(kind: str, status: str) -> Category:
    return KINDS[kind].categorize(status)


def next_delay(policy: PollPolicy, attempt: int, *, hint: float | None = None,
               spread: float = 0.5) -> float:
    """Seconds to wait after poll number ``attempt`` (0 = the first poll).

    ``spread`` is a uniform random number in [0, 1) that places the delay inside the jitter
    band; passing it in keeps this function pure. The result lies in
    ``[MIN_DELAY, ceiling]`` unless the server's hint asks for more (at most
    ``ceiling * HINT_CEILINGS``).
    """
    base = policy.initial * policy.multiplier ** min(attempt, 200)
    base = min(base, policy.ceiling)
    delay = min(base * (1 + policy.jitter * (2 * spread - 1)), policy.ceiling)
    if hint is not None and hint > delay:
        delay = min(hint, policy.ceiling * HINT_CEILINGS)
    return max(delay, MIN_DELAY)


# ---------------------------------------------------------------------------------------------
# The async half.


@attrs.frozen(kw_only=True)
class Transition(Generic[S]):
    """One status change of a watched job.

    ``previous`` is None on the first one; ``snapshot`` is the latest model the API returned;
    ``elapsed`` counts seconds since the watch began.
    """

    kind: str
    resource_id: str
    previous: str | None
    current: str
    at: datetime
    elapsed: float
    snapshot: S

    @property
    def category(self) -> Category:
        return categorize(self.kind, self.current)


@attrs.frozen(kw_only=True)
class WatchSpec(Generic[S]):
    """What to poll: ``fetch`` returns a snapshot, ``status_of`` reads its status."""

    kind: str
    ids: tuple[str, ...]
    fetch: Callable[[], Awaitable[S]]
    status_of: Callable[[S], str]

    @property
    def resource_id(self) -> str:
        return self.ids[-1]


@attrs.define
class _Failure:
    error: Exception


class Watch(Generic[S]):
    """An async iterator of `Transition` for one job, as returned by every ``watch*`` method.

    Use it with ``async for``, or ``await watch.wait()`` for the final snapshot; it knows its
    ``kind`` and ``resource_id`` before the first poll. Breaking out of the loop stops
    polling; ``aclose()`` (or ``async with``) also releases it at once.
    """

    def __init__(self, spec: WatchSpec[S], generator: AsyncGenerator[Transition[S], None]):
        self.kind = spec.kind
        self.ids = spec.ids
        self.resource_id = spec.resource_id
        self._generator = generator

    def __repr__(self) -> str:
        return f"<Watch {self.kind} {'/'.join(self.ids)}>"

    def __aiter__(self) -> Watch[S]:
        return self

    async def __anext__(self) -> Transition[S]:
        return await self._generator.__anext__()

    async def aclose(self) -> None:
        await self._generator.aclose()

    async def wait(self) -> S:
        """Watch to the end and return the last snapshot (the terminal one).

        Raises what the watch raises: `ResourceFailed`, `PollTimeout`, `PollError`.
        """
        async with self:
            last = None
            async for transition in self:
                last = transition
        # A watch ends only after yielding a terminal status, so there was at least one.
        assert last is not None
        return last.snapshot

    async def __aenter__(self) -> Watch[S]:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()


class _Channel:
    """The shared poll schedule and latest answer for one resource."""

    def __init__(self) -> None:
        self.version = 0
        self.outcome: Any = None
        self.next_at = 0.0
        self.busy = False
        self.changed = anyio.Event()
        self.subscribers = 0

    async def poll(
        self,
        seen: int,
        fetch: Callable[[], Awaitable[Any]],
        delay_after: Callable[[Any], float],
        deadline_at: float,
    ) -> tuple[int, Any] | None:
        """The first answer newer than version ``seen``; None when ``deadline_at`` came first."""
        while True:
            if self.version > seen:
                return self.version, self.outcome
            now = anyio.current_time()
            if not self.busy and now >= self.next_at:
                await self._fetch(fetch, delay_after, deadline_at)
                continue
            if now >= deadline_at:
                return None
            wait_until = deadline_at if self.busy else min(self.next_at, deadline_at)
            with anyio.move_on_after(wait_until - now):
                await self.changed.wait()

    async def _fetch(
        self, fetch: Callable[[], Awaitable[Any]], delay_after: Callable[[Any], float],
        deadline_at: float,
    ) -> None:
        self.busy = True
        started = anyio.current_time()
        outcome: Any
        try:
            try:
                outcome = await fetch()
            except Exception as exc:  # handed to every watcher, which decides what it means
                outcome = _Failure(exc)
            self.version += 1
            self.outcome = outcome
            # Polls are spaced start to start, so a slow answer does not stretch the cadence
            # (and the gap between two looks at the job never exceeds the delay); a request
            # slower than the delay is followed at once, so the rate never exceeds 1/delay.
            # A final poll lands on the deadline rather than after it.
            finished = anyio.current_time()
            due = max(started + delay_after(outcome), finished + MIN_DELAY)
            self.next_at = min(due, max(deadline_at, finished + MIN_DELAY))
        finally:
            # Also on cancellation: waiters wake and one of them takes over the polling.
            self.busy = False
            self.changed.set()
            self.changed = anyio.Event()


class Channels:
    """The channels of one client, keyed by (kind, ids)."""

    def __init__(self) -> None:
        self._channels: dict[tuple[str, tuple[str, ...]], _Channel] = {}

    def join(self, key: tuple[str, tuple[str, ...]]) -> _Channel:
        channel = self._channels.get(key)
        if channel is None:
            channel = self._channels[key] = _Channel()
        channel.subscribers += 1
        return channel

    def leave(self, key: tuple[str, tuple[str, ...]], channel: _Channel) -> None:
        channel.subscribers -= 1
        if channel.subscribers == 0 and self._channels.get(key) is channel:
            del self._channels[key]


def _is_transient(error: Exception) -> bool:
    """Connection trouble, 429 and 5xx may pass; anything else will not by asking again."""
    if isinstance(error, APIConnectionError):
        return True
    return isinstance(error, APIStatusError) and (
        error.status_code == 429 or error.status_code >= 500
    )


def resume_token(spec: WatchSpec[Any], status: str | None, attempt: int) -> dict[str, Any]:
    return {"v": 1, "kind": spec.kind, "ids": list(spec.ids), "status": status,
            "attempt": attempt}


async def transitions(
    spec: WatchSpec[S],
    policy: PollPolicy,
    channels: Channels,
    *,
    spend_retry: Callable[[], bool],
    previous: str | None = None,
    attempt: int = 0,
    rng: random.Random | None = None,
) -> AsyncGenerator[Transition[S], None]:
    """Yield a `Transition` for the first status and each change; end after a terminal one.

    ``previous``/``attempt`` continue a watch from a resume token. ``spend_retry`` takes a
    token from the client's retry budget for each tolerated poll error.
    """
    kind = KINDS[spec.kind]
    draw = (rng or random.Random()).random
    started = anyio.current_time()
    deadline_at = started + policy.deadline
    errors = 0
    seen = 0
    warned: set[str] = set()

    def delay_after(outcome: Any) -> float:
        hint = outcome.error.retry_after if (
            isinstance(outcome, _Failure) and isinstance(outcome.error, RateLimitError)
        ) else None
        return next_delay(policy, attempt, hint=hint, spread=draw())

    def timed_out() -> PollTimeout:
        return PollTimeout(
            f"{spec.kind} {spec.resource_id} still {previous or 'unseen'} after "
            f"{policy.deadline:g} s; the job may still finish on the server: "
            "resume the watch with the resume token",
            kind=spec.kind, resource_id=spec.resource_id, last_status=previous,
            resume_token=resume_token(spec, previous, attempt),
        )

    key = (spec.kind, spec.ids)
    channel = channels.join(key)
    try:
        while True:
            answer = await channel.poll(seen, spec.fetch, delay_after, deadline_at)
            if answer is None:
                raise timed_out()
            seen, outcome = answer
            attempt += 1
            if isinstance(outcome, _Failure):
                error = outcome.error
                errors += 1
                if not _is_transient(error):
                    raise error
                if errors > policy.max_poll_errors or not spend_retry():
                    why = ("retry budget spent" if errors <= policy.max_poll_errors
                           else f"{errors} poll errors in a row")
                    raise PollError(
                        f"gave up watching {spec.kind} {spec.resource_id} ({why}): {error}"
                    ) from error
                logger.debug("poll of %s %s failed (%d in a row): %s", spec.kind,
                             spec.resource_id, errors, error)
                if anyio.current_time() >= deadline_at:
                    raise timed_out() from error
                continue
            errors = 0
            snapshot: S = outcome
            status = str(spec.status_of(snapshot))
            category = kind.categorize(status)
            if category is Category.UNKNOWN and status not in warned:
                warned.add(status)
                logger.warning("%s %s has a status this SDK does not know: %r; still polling",
                               spec.kind, spec.resource_id, status)
            if status != previous:
                transition = Transition(
                    kind=spec.kind, resource_id=spec.resource_id, previous=previous,
                    current=status, at=datetime.now(timezone.utc),
                    elapsed=anyio.current_time() - started, snapshot=snapshot,
                )
                previous = status
                yield transition
            if category is Category.FAILED:
                raise ResourceFailed(
                    f"{spec.kind} {spec.resource_id} ended {status}: {kind.remedy}",
                    kind=spec.kind, resource_id=spec.resource_id, status=status,
                    snapshot=snapshot,
                )
            if category is Category.DONE:
                return
            if anyio.current_time() >= deadline_at:
                raise timed_out()
    finally:
        channels.leave(key, channel)
