"""`Watch`: an async iterator of `Transition`, a thin driver of a `PollLoop` over a shared
`Channel`: it carries out what the loop decides and yields what changed."""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncGenerator, Awaitable, Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs

from ._backend import loop_time
from ._channel import Channels
from ._config import PollPolicy
from ._errors import ResourceFailed, is_paced_refusal
from ._jobs import Category, JobKind
from ._polling import Failure, PollLoop

if TYPE_CHECKING:
    from ._hooks import HookReceiver

__all__ = ["Transition", "Watch", "job_started_at"]

logger = logging.getLogger("prolific_async.polling")

S = TypeVar("S")


@attrs.frozen(kw_only=True)
class Transition(Generic[S]):
    """One status change of a watched job.

    ``previous`` is None on the first one; ``snapshot`` is the latest model the API returned;
    ``elapsed`` counts seconds since the watch began; ``category`` says whether the job is
    still pending, done or failed.

    Example::

        async for t in client.batches.watch(batch_id):
            print(f"{t.elapsed:.1f}s {t.previous} -> {t.current} ({t.category.value})")
    """

    kind: str
    resource_id: str
    previous: str | None
    current: str
    at: datetime
    elapsed: float
    snapshot: S
    category: Category = Category.UNKNOWN


@attrs.frozen(kw_only=True)
class WatchSpec(Generic[S]):
    """What to poll: ``fetch`` returns an answer, ``status_of`` reads the job's status and
    ``snapshot_of`` its snapshot from it (None when the answer does not mention the job yet).

    Watches with the same ``channel_key`` share their polls: by default one key per job; a
    spec that reads one list answer for many jobs gives them all the list's key.
    """

    job: JobKind
    ids: tuple[str, ...]
    fetch: Callable[[], Awaitable[Any]]
    status_of: Callable[[Any], str | None]
    snapshot_of: Callable[[Any], S] = attrs.field(default=lambda answer: answer)
    channel_key: Hashable = None

    @property
    def kind(self) -> str:
        return self.job.name

    @property
    def resource_id(self) -> str:
        return self.ids[-1]

    @property
    def key(self) -> Hashable:
        return self.channel_key if self.channel_key is not None else (self.job.name, self.ids)


class Watch(Generic[S]):
    """An async iterator of `Transition` for one job, as returned by every ``watch*`` method.

    Use it with ``async for``, or ``await watch.wait()`` for the final snapshot; it knows its
    ``kind`` and ``resource_id`` before the first poll. Breaking out of the loop stops
    polling; ``aclose()`` (or ``async with``) also releases it at once. Nothing is ever
    cancelled on the server.

    Example::

        async with client.batches.watch(batch_id) as watch:
            async for t in watch:
                print(t.previous, "->", t.current)
    """

    def __init__(self, spec: WatchSpec[S], generator: AsyncGenerator[Transition[S], None]):
        self.kind: str = spec.kind
        self.ids: tuple[str, ...] = spec.ids
        self.resource_id: str = spec.resource_id
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

        Raises what the watch raises: `ResourceFailed`, `JobNotStarted`, `PollTimeout`,
        `PollError`.
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


#: When the job a wait is for was started (`job_started_at`), read as a watch is created.
JOB_STARTED: ContextVar[float | None] = ContextVar("prolific_async_job_started", default=None)


@contextmanager
def job_started_at(when: float) -> Iterator[None]:
    """Watches begun in this block are for a job started at ``when`` (an
    ``anyio.current_time()`` reading taken as it was started): they count their time and
    deadline from then, and learn from it, as `wait_ready` does. Once a job of that kind has
    ended, a later wait polls when that one had ended, then looks again shortly after, rather
    than only on its backoff (see `PollPolicy`).

    Example::

        began = anyio.current_time()
        await client.datasets.upload(ds.id, "reviews.csv")
        with pa.job_started_at(began):
            await client.datasets.watch(ds.id).wait()
    """
    token = JOB_STARTED.set(when)
    try:
        yield
    finally:
        JOB_STARTED.reset(token)


@attrs.define
class WatchEnv:
    """What every watch of one client shares: its channels, its retry budget, its random
    numbers, the unknown statuses already warned about, the shortest wait seen by kind of
    job (and, before one ended, the oldest such job polled), and a hint for timeout
    messages."""

    channels: Channels
    spend_retry: Callable[[], bool]
    rng: random.Random
    warned: set[tuple[str, str]] = attrs.Factory(set)
    shortest: dict[str, float] = attrs.Factory(dict)
    asked: dict[str, float] = attrs.Factory(dict)
    timeout_hint: str = ""


async def transitions(
    spec: WatchSpec[S], policy: PollPolicy, env: WatchEnv, *,
    previous: str | None = None, attempt: int = 0, expect_started: bool = False,
    events: HookReceiver | None = None, job_started: float | None = None,
) -> AsyncGenerator[Transition[S], None]:
    """Yield a `Transition` for the first status and each change; end after a terminal one.

    ``previous``/``attempt`` continue a watch from a resume token; ``expect_started`` makes
    a job found never started on the first poll a `JobNotStarted`; each ``events`` webhook
    about the job makes the channel poll at once; ``job_started`` (see `job_started_at`)
    is when the job was started: the watch counts from then and learns from it.
    """
    loop = PollLoop(job=spec.job, ids=spec.ids, policy=policy,
                    started_at=loop_time() if job_started is None else job_started,
                    previous=previous, attempt=attempt,
                    expect_started=expect_started and previous is None,
                    timeout_hint=env.timeout_hint, shortest=env.shortest, asked=env.asked,
                    # A watch woken by webhooks polls only as a safety net: it neither
                    # probes its job nor is held back by what the others learned.
                    learn=(expect_started or job_started is not None) and events is None,
                    from_job_start=job_started is not None)
    key = spec.key
    channel = env.channels.join(key)
    stop_listening = events.listen(spec.resource_id, channel.wake) if events else None
    seen = 0
    try:
        while True:
            answer = await channel.poll(seen, spec.fetch, loop, env.rng.random)
            if answer is None:
                raise loop.timeout()
            seen, outcome = answer
            now = loop_time()
            if isinstance(outcome, Failure):
                # A paced refusal is no failure: it spends no token of the budget.
                error = loop.on_error(outcome.error, now, budget_left=is_paced_refusal(
                    outcome.error) or env.spend_retry())
                if error is not None:
                    raise error
                logger.debug("poll of %s %s failed (%d in a row): %s", spec.kind,
                             spec.resource_id, loop.errors, outcome.error)
                continue
            status = spec.status_of(outcome)
            if status is None:  # a shared list answer that does not show this job yet
                if (timeout := loop.expired(now)) is not None:
                    raise timeout
                continue
            step = loop.on_status(status, now, sent=channel.started)
            if step.category is Category.UNKNOWN and (spec.kind, status) not in env.warned:
                env.warned.add((spec.kind, status))
                logger.warning("%s %s has a status this SDK does not know: %r; still polling",
                               spec.kind, spec.resource_id, status)
            snapshot: S = spec.snapshot_of(outcome)
            if step.changed:
                yield Transition(
                    kind=spec.kind, resource_id=spec.resource_id, previous=step.previous,
                    current=status, at=datetime.now(timezone.utc),
                    elapsed=now - loop.started_at, snapshot=snapshot, category=step.category,
                )
            if step.error is not None:
                if isinstance(step.error, ResourceFailed):
                    step.error.snapshot = snapshot
                raise step.error
            if step.done:
                return
    finally:
        env.channels.leave(key, channel)
        if stop_listening is not None:
            stop_listening()
