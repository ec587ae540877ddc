"""Leases and what `journal status` shows: the vocabulary shared by every journal.

A *lease* says which worker drives a plan. The SQLite journal's one run holds them all; the
PostgreSQL journal hands them out to many workers (see `prolific_async.orchestration._journal_pg`).
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import attrs

from . import _sdk as pa
from ._events import Stage

__all__ = [
    "DEFAULT_LEASE_TIMEOUT", "JournalStatus", "LeaseLostError", "PlanLeasedError", "PlanStatus",
    "WorkerStatus", "display_url", "plan_status",
]

#: Seconds without a heartbeat after which a worker's leases may be taken over.
DEFAULT_LEASE_TIMEOUT = 30.0
_ORDER = {stage.value: n for n, stage in enumerate(Stage)}


class LeaseLostError(pa.ProlificError, RuntimeError):
    """This worker no longer holds the plan's lease: another worker took it over after this one
    missed its heartbeats (stopped, or cut off from the database). Nothing more may be done for
    the plan here; its new holder reconciles from the server and carries on.

    Example::

        failed = [r for r in run.results if isinstance(r.error, pa.LeaseLostError)]
        # each of these plans is driven on by another worker of the same journal
    """

    def __init__(self, message: str, *, plan: str) -> None:
        super().__init__(message)
        self.plan = plan


class PlanLeasedError(pa.ProlificError, RuntimeError):
    """Another live worker drives the plan (``holder``); it is not driven here.

    Example::

        for result in run.results:
            if isinstance(result.error, pa.PlanLeasedError):
                print(result.plan, "is driven by", result.error.holder)
    """

    def __init__(self, message: str, *, plan: str, holder: str) -> None:
        super().__init__(message)
        self.plan = plan
        self.holder = holder


@attrs.frozen
class PlanStatus:
    """One plan as the journal sees it: its furthest stage and who drives it.

    Example::

        status = await pa.journal_status("run.db")
        begun = [p.plan for p in status.plans if p.state == "begun"]
    """

    plan: str
    #: The furthest stage recorded, and its state ("begun" or "done"); None before any.
    stage: str | None
    state: str | None
    finished: bool
    #: The worker holding the lease, or None; ``stale`` when its heartbeat stopped.
    holder: str | None = None
    stale: bool = False


@attrs.frozen
class WorkerStatus:
    """One worker that joined the run: its last heartbeat ``age`` seconds ago, whether it is
    ``live`` (within its lease timeout), and how many plans it holds.

    Example::

        gone = [w.worker for w in (await pa.journal_status(url)).workers if not w.live]
    """

    worker: str
    age: float
    live: bool
    leases: int


@attrs.frozen
class JournalStatus:
    """What `pa.journal_status` (and ``prolific-async journal status``) reports.

    Example::

        status = await pa.journal_status("postgresql://run@db/prolific")
        print(status.by_stage())      # {'finished': 58, 'batch_ready (begun)': 2}
        stale = [p.plan for p in status.plans if p.stale]
    """

    plans: tuple[PlanStatus, ...]
    workers: tuple[WorkerStatus, ...] = ()
    #: The run-wide poll ceiling (polls a second) the workers share, once one recorded it.
    poll_ceiling: float | None = None

    def by_stage(self) -> dict[str, int]:
        """How many plans are at each stage ("finished" and "not started" included)."""
        counts: dict[str, int] = {}
        for plan in self.plans:
            key = "finished" if plan.finished else (
                f"{plan.stage} ({plan.state})" if plan.stage else "not started")
            counts[key] = counts.get(key, 0) + 1
        return counts


def plan_status(plan: str, stages: list[tuple[str, str]], *, finished: bool,
                holder: str | None = None, stale: bool = False) -> PlanStatus:
    """A plan's `PlanStatus` from its recorded ``(stage, state)`` pairs: the furthest one."""
    if not stages:
        return PlanStatus(plan, None, None, finished, holder, stale)
    stage, state = max(stages, key=lambda pair: _ORDER.get(pair[0], -1))
    return PlanStatus(plan, stage, state, finished, holder, stale)


def display_url(url: str) -> str:
    """A journal URL as messages and reprs show it: without its password.

    Example: ``display_url("postgresql://run:secret@db/prolific")`` is
    ``"postgresql://run:***@db/prolific"``.
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
