"""Every decision about polling, pure: no I/O, no clock of its own, no randomness of its own.

In the manner of hishel's ``_spec``: `PollLoop` is fed what happened (a status, an error, the
current time) and answers what to do (report a change, go on, finish, raise), when to poll
next, and until when a poll in flight may run. `next_delay` is the backoff arithmetic;
`AdaptiveRate` the client-wide poll budget (AIMD on 429). `_channel` shares fetches and gates
the rate, `_watch` drives a loop: neither decides anything, so every rule here is tested
without a server or a clock.
"""

from __future__ import annotations

import math

import attrs

from ._config import PollPolicy
from ._errors import (
    APIStatusError,
    JobNotStarted,
    PollError,
    PollTimeout,
    ResourceFailed,
    is_paced_refusal,
    is_transient,
)
from ._jobs import Category, JobKind

__all__: list[str] = []  # nothing public here

#: Every poll sleeps at least this long, whatever a policy or server says: no hot loops.
MIN_DELAY = 0.001
#: A server's Retry-After is obeyed, but never beyond this many ceilings.
HINT_CEILINGS = 4.0
#: A poll sent at (or just before) the deadline may run this much past it, so the final
#: look at the job is not cut before it can answer.
FINAL_POLL_GRACE = 0.5
#: A learning wait looks again this share of the quickest such job's duration after a poll
#: that found its job still running, until the job is this many times as old (then backoff).
LOOK_AGAIN = 0.25
LOOK_AROUND = 1.5
#: A wait for a job just started first asks no sooner than this share of its first delay.
FIRST_LOOK = 0.2


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


@attrs.define
class Failure:
    """A poll that raised: handed to every watcher of the channel, which decides what it
    means."""

    error: Exception


@attrs.define
class AdaptiveRate:
    """The polls a second every watch of one client may send together, adapting as TCP does.

    It starts high, at ``start`` (or at ``ceiling`` when that is lower), is halved on a 429
    (at most once per ``cut_spacing`` seconds: one burst of 429s is one signal), and grows by
    ``increase`` polls a second for each second without one, never above ``ceiling`` (the
    client's explicit ``max_poll_rate``; None: up to ``limit``) nor below ``floor``.
    """

    ceiling: float | None = None
    start: float = 500.0
    increase: float = 20.0
    floor: float = 2.0
    limit: float = 10_000.0
    cut_spacing: float = 1.0
    rate: float = attrs.field(init=False)
    _grown_at: float | None = attrs.field(init=False, default=None)
    _cut_at: float = attrs.field(init=False, default=-math.inf)

    def __attrs_post_init__(self) -> None:
        self.rate = min(self.start, self.top)

    @property
    def top(self) -> float:
        return self.limit if self.ceiling is None else self.ceiling

    @property
    def slowed(self) -> bool:
        """Whether a 429 has cut the rate and it has not yet grown back to its top: the
        server has shown its limit, so every request of the client keeps to the rate."""
        return self._cut_at != -math.inf and self.rate < self.top

    def cap(self, ceiling: float | None) -> None:
        """Set (or, with None, lift) the explicit ceiling; the rate comes down to it at once.
        A higher ceiling, or none, gives back the starting rate if no 429 ever cut it (a
        run's fixed cap is no sign of the server's limit); after a 429 it grows back."""
        self.ceiling = ceiling
        if self._cut_at == -math.inf:
            self.rate = min(self.start, self.top)
        else:
            self.rate = min(self.rate, self.top)

    def throttled(self, now: float) -> None:
        """A 429 came back: slow every watch down, once per burst."""
        if now - self._cut_at >= self.cut_spacing:
            self._cut_at = now
            self.rate = max(self.floor, self.rate / 2)
        self._grown_at = now

    def answered(self, now: float) -> None:
        """A poll was answered without a 429: grow back, ``increase`` per second."""
        if self._grown_at is not None and self.rate < self.top:
            self.rate = min(self.top, self.rate + self.increase * (now - self._grown_at))
        self._grown_at = now


@attrs.frozen
class ResumeToken:
    """Where a watch stopped: written by `PollTimeout`, read by ``client.resume``.

    On the wire it is a small JSON-able dict:
    ``{"v": 1, "kind": "batch", "ids": ["..."], "status": "PROCESSING", "attempt": 12}``.
    """

    kind: str
    ids: tuple[str, ...]
    status: str | None
    attempt: int

    VERSION = 1

    def to_json(self) -> dict[str, object]:
        return {"v": self.VERSION, "kind": self.kind, "ids": list(self.ids),
                "status": self.status, "attempt": self.attempt}

    @classmethod
    def from_json(cls, data: object) -> ResumeToken:
        """Read a token back; anything else is a `ValueError` saying what is wrong."""
        if not isinstance(data, dict) or data.get("v") != cls.VERSION \
                or not isinstance(data.get("kind"), str):
            raise ValueError(f"not a prolific_async resume token: {data!r}")
        ids = data.get("ids")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            raise ValueError(f"resume token has bad ids: {ids!r}")
        status = data.get("status")
        attempt = data.get("attempt", 0)
        if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 0:
            raise ValueError(f"resume token has a bad attempt: {attempt!r}")
        return cls(kind=data["kind"], ids=tuple(ids),
                   status=status if isinstance(status, str) else None, attempt=attempt)


@attrs.frozen
class Step:
    """What to do after an answer: report a change (``changed``, from ``previous``), then
    raise ``error``, or stop when ``done``, or else wait and poll again."""

    changed: bool = False
    previous: str | None = None
    category: Category = Category.PENDING
    error: Exception | None = None
    done: bool = False


@attrs.define
class PollLoop:
    """The state of one watch: the last status, how many polls, how many errors in a row."""

    job: JobKind
    ids: tuple[str, ...]
    policy: PollPolicy
    started_at: float
    previous: str | None = None
    attempt: int = 0
    errors: int = 0
    #: Whether a not-started status on the first poll is an error (``wait_ready``); a plain
    #: watch may well begin before the upload or the setup.
    expect_started: bool = False
    #: Appended to timeout messages (the test fixtures say how to move a stopped fake clock).
    timeout_hint: str = ""
    #: The shortest time from the start of a wait to its job's end, by kind of job, shared
    #: by the client's watches; a ``learn`` watch (a wait for a job already started) both
    #: reads it and adds to it.
    shortest: dict[str, float] | None = None
    learn: bool = False
    #: Whether ``started_at`` is when the job was started (`job_started_at`): a job seen done
    #: at the first poll then also tells how long such a job takes (at most), and until one
    #: is seen done, the oldest such job asked about spaces the polls of the others.
    from_job_start: bool = False
    #: The oldest age, by kind of job, at which such a job (counted from its start) was
    #: polled, shared like ``shortest``: while no such job has ended, younger waits do not
    #: ask sooner (see `floor_at`).
    asked: dict[str, float] | None = None

    @property
    def resource_id(self) -> str:
        return self.ids[-1]

    @property
    def deadline_at(self) -> float:
        return self.started_at + self.policy.deadline

    @property
    def floor_at(self) -> float:
        """No poll of a wait for a job just started before the quickest such job this client
        has seen finish could have finished. Read at each poll: waits started together learn
        from the first of them to end.

        Until one has ended, a wait counted from its job's start (`job_started_at`) polls no
        job younger than a `LOOK_AGAIN` past the oldest such job already asked about: a
        thousand jobs started together are probed by the oldest of them, each look a quarter
        older than the last, rather than each polled too early. It waits at most its
        policy's ceiling for that: a job stuck for an hour holds no other wait back longer."""
        quickest = self.quickest
        if quickest is not None:
            return self.started_at + quickest
        asked = self.oldest_asked
        if asked is None:
            return -math.inf
        return self.started_at + min((1 + LOOK_AGAIN) * asked, self.policy.ceiling)

    @property
    def oldest_asked(self) -> float | None:
        """The oldest age a job of this kind was polled at, for a wait counted from its job's
        start while no such job has been seen to end; else None."""
        if self.asked is None or not (self.learn and self.from_job_start):
            return None
        return self.asked.get(self.job.name)

    def sending(self, now: float) -> None:
        """A poll of this wait goes now: no other job of the kind is asked about until it is
        older (see `floor_at`)."""
        if self.asked is not None and self.learn and self.from_job_start \
                and self.quickest is None:
            age = now - self.started_at
            self.asked[self.job.name] = max(age, self.asked.get(self.job.name, age))

    def first_poll_at(self, spread: float) -> float:
        """When the first poll goes. A plain watch asks at once (it reports the status it
        finds). A wait counted from its job's start (`job_started_at`) knows its job is
        young: it first asks after a share of its policy's first delay, drawn by ``spread``
        in [0, 1) from `FIRST_LOOK` to all of it (at once it would only see the job pending;
        drawn, so jobs started together are not all asked about at once), and not before
        `floor_at`."""
        if not self.from_job_start:
            return -math.inf
        share = FIRST_LOOK + (1 - FIRST_LOOK) * spread
        return min(max(self.started_at + share * self.policy.initial, self.floor_at),
                   self.deadline_at)

    def next_poll_at(self, started: float, finished: float, *, spread: float,
                     error: Exception | None = None, look_again: bool = True) -> float:
        """When the next poll goes, after one that ran from ``started`` to ``finished``.

        Polls are spaced start to start, so a slow answer does not stretch the cadence (and
        the gap between two looks at the job never exceeds the delay); a request slower than
        the delay is followed at once, so the rate never exceeds 1/delay. A server's
        ``Retry-After`` (a 429) stretches the delay. A final poll lands on the deadline
        rather than after it.

        A wait for a job just started, once such a job's duration is known, polls when the
        quickest such job had ended, then every `LOOK_AGAIN` of that duration until the job
        is `LOOK_AROUND` times as old, rather than on its backoff: most jobs of a kind end
        at about the same age, and a wait that polled a moment too early would otherwise
        see its job only a whole (run-paced) delay later. Not with ``look_again=False``
        (the client's channels pass it while a 429 has cut the poll rate: under a limit the
        server has shown, extra looks only spend its budget).
        """
        delay = next_delay(self.policy, self.attempt, hint=self.hint_of(error), spread=spread)
        due = max(started + delay, finished + MIN_DELAY, self.floor_at)
        quickest = self.quickest
        if look_again and error is None:
            if quickest is not None and finished < self.started_at + LOOK_AROUND * quickest:
                due = min(due, max(self.floor_at, finished + LOOK_AGAIN * quickest))
            elif quickest is None and self.oldest_asked is not None:
                # Nothing of the kind has ended yet: the oldest job asked about is looked at
                # again once it is a `LOOK_AGAIN` older (how long such a job takes is then
                # learned within that share), rather than on its backoff.
                due = min(due, max(self.floor_at, finished + MIN_DELAY))
        return min(due, max(self.deadline_at, finished + MIN_DELAY))

    @property
    def quickest(self) -> float | None:
        """The quickest such job's duration, for a wait that learns; else None."""
        if self.shortest is None or not self.learn:
            return None
        return self.shortest.get(self.job.name)

    def cutoff(self, now: float) -> float:
        """Until when a poll sent at ``now`` may run: the deadline bounds it too."""
        return max(self.deadline_at, now + FINAL_POLL_GRACE)

    @staticmethod
    def hint_of(error: Exception | None) -> float | None:
        """A server's wait hint carried by a failed poll (429 or 503 + Retry-After)."""
        return error.retry_after if isinstance(error, APIStatusError) else None

    def on_status(self, status: str, now: float, *, sent: float | None = None) -> Step:
        """A poll answered with ``status`` at ``now`` (sent at ``sent``, when known).

        A job seen done teaches how long such a job takes, counted to when the poll was
        sent: a later wait's poll, sent at that age, spends the same time on its way, so it
        reaches the job as old as this one found it done (counted to the answer, each later
        wait would be late by one whole request)."""
        self.attempt += 1
        self.errors = 0
        first = self.attempt == 1 and self.expect_started
        category = self.job.categorize(status)
        previous, changed = self.previous, status != self.previous
        self.previous = status
        if first and status in self.job.not_started:
            return Step(changed=changed, previous=previous, category=category, error=JobNotStarted(
                f"{self.job.name} {self.resource_id} is {status}: it was never started, so "
                f"waiting cannot help: {self.job.missing_step}",
                kind=self.job.name, resource_id=self.resource_id, status=status,
            ))
        if category is Category.FAILED:
            error: Exception | None = ResourceFailed(
                f"{self.job.name} {self.resource_id} ended {status}: {self.job.remedy}",
                kind=self.job.name, resource_id=self.resource_id, status=status, snapshot=None,
            )
            return Step(changed=changed, previous=previous, category=category, error=error)
        if category is Category.DONE:
            if self.learn and self.shortest is not None and (
                    previous is not None or self.from_job_start):
                took = (now if sent is None else sent) - self.started_at
                self.shortest[self.job.name] = min(took, self.shortest.get(self.job.name, took))
            return Step(changed=changed, previous=previous, category=category, done=True)
        return Step(changed=changed, previous=previous, category=category,
                    error=self.expired(now))

    def on_error(self, error: Exception, now: float, *, budget_left: bool) -> Exception | None:
        """A poll failed: the error to raise, or None to tolerate it and poll again.

        A 429 with ``Retry-After`` is the server's pacing, not a failure: it needs no budget
        and does not count as an error in a row (the deadline still bounds the watch)."""
        self.attempt += 1
        if is_paced_refusal(error):
            return self.expired_after(error, now)
        self.errors += 1
        if not is_transient(error):
            return error
        if self.errors > self.policy.max_poll_errors or not budget_left:
            why = ("retry budget spent" if self.errors <= self.policy.max_poll_errors
                   else f"{self.errors} poll errors in a row")
            failure = PollError(
                f"gave up watching {self.job.name} {self.resource_id} ({why}): {error}"
            )
            failure.__cause__ = error
            return failure
        return self.expired_after(error, now)

    def expired_after(self, error: Exception, now: float) -> PollTimeout | None:
        """The `PollTimeout` to raise, caused by ``error``, once the deadline has passed."""
        timeout = self.expired(now)
        if timeout is not None:
            timeout.__cause__ = error
        return timeout

    def expired(self, now: float) -> PollTimeout | None:
        """The `PollTimeout` to raise once the deadline has passed, else None."""
        if now < self.deadline_at:
            return None
        return self.timeout()

    def timeout(self) -> PollTimeout:
        token = ResumeToken(kind=self.job.name, ids=self.ids, status=self.previous,
                            attempt=self.attempt)
        return PollTimeout(
            f"{self.job.name} {self.resource_id} still {self.previous or 'unseen'} after "
            f"{self.policy.deadline:g} s; the job may still finish on the server: "
            f"resume the watch with the resume token{self.timeout_hint}",
            kind=self.job.name, resource_id=self.resource_id, last_status=self.previous,
            resume_token=token.to_json(),
        )
