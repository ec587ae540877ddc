"""The decisions of one watch as a pure state object: no I/O, no clock, no randomness.

In the manner of hishel's ``_spec``: `PollLoop` is fed what happened (a status, an error, the
current time) and answers what to do (report a change, go on, finish, raise), and how long
to wait. The async generator in `_watch` only drives it, so every decision is tested without
a server or a clock.
"""

from __future__ import annotations

import attrs

from ._backoff import next_delay
from ._config import PollPolicy
from ._errors import (
    JobNotStarted,
    PollError,
    PollTimeout,
    RateLimitError,
    ResourceFailed,
    is_transient,
)
from ._jobs import Category, JobKind

__all__ = ["PollLoop", "ResumeToken", "Step"]


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

    @property
    def resource_id(self) -> str:
        return self.ids[-1]

    @property
    def deadline_at(self) -> float:
        return self.started_at + self.policy.deadline

    def delay(self, *, spread: float, hint: float | None = None) -> float:
        """Seconds from this poll's start to the next one's."""
        return next_delay(self.policy, self.attempt, hint=hint, spread=spread)

    @staticmethod
    def hint_of(error: Exception | None) -> float | None:
        """A server's wait hint carried by a failed poll (429 + Retry-After)."""
        return error.retry_after if isinstance(error, RateLimitError) else None

    def on_status(self, status: str, now: float) -> Step:
        """A poll answered with ``status``."""
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
            return Step(changed=changed, previous=previous, category=category, done=True)
        return Step(changed=changed, previous=previous, category=category,
                    error=self.expired(now))

    def on_error(self, error: Exception, now: float, *, budget_left: bool) -> Exception | None:
        """A poll failed: the error to raise, or None to tolerate it and poll again."""
        self.attempt += 1
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
