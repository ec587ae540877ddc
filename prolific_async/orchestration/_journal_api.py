"""What a run needs from its journal, whichever database keeps it.

A journal records, per plan, the fingerprint of its inputs, each id the moment it is known and
each stage begun and done (`JournalStore`). It also says which worker drives which plan: a
*lease*. The SQLite file (`Journal`, the default) is locked by one run, so its one worker holds
every lease. The PostgreSQL journal (`PostgresJournal`, chosen by a ``postgresql://`` URL) is
shared by any number of workers: a plan is leased to one of them at a time, the lease lives as
long as its worker's heartbeat, and a stale lease is taken over by another worker. Every write
a worker makes for a plan is fenced by its lease, so a worker that lost a lease (it was stopped,
or cut off, past the timeout) gets `LeaseLostError` instead of writing over its successor.

`open_journal` picks the implementation from its argument. Example::

    async with open_journal("postgresql://run@db/prolific") as journal:
        await journal.add("reviews-1", fingerprint)
        for plan in await journal.claim(10):
            record = await journal.enter(plan, fingerprint)
            ...
            await journal.release(plan, finished=True)
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Protocol

import anyio

from . import _sdk as pa
from ._journal import Journal, PlanRecord
from ._leases import JournalStatus, display_url

__all__ = ["JournalStore", "is_postgres_url", "journal_status", "open_journal"]

_SCHEMES = ("postgresql://", "postgres://")


class JournalStore(Protocol):
    """What the pipeline needs from a journal (see the module docstring)."""

    #: Whether other workers may share the run (then plans may be held, or done, elsewhere).
    shared: bool
    #: Seconds a silent worker keeps its leases; a shared run looks again a third as often.
    lease_timeout: float

    async def peek(self, plan: str) -> tuple[PlanRecord, bool]:
        """What was recorded of ``plan`` (by any worker) and whether it is finished; no lease."""

    async def add(self, plan: str, fingerprint: Mapping[str, str]) -> None:
        """Record ``plan`` with its input fingerprint, or check it against the one recorded
        (`PlanChangedError` when an input changed). Takes no lease."""

    async def enter(self, plan: str, fingerprint: Mapping[str, str]) -> PlanRecord:
        """`add`, lease the plan to this worker, and load what was recorded of it.

        `PlanLeasedError` when another live worker holds it; a stale lease is taken over."""

    async def claim(self, limit: int) -> list[str]:
        """Lease up to ``limit`` plans of the run that are not finished and not driven by a
        live worker (added by any worker), oldest first; their names."""

    async def confirm(self, plan: str) -> None:
        """Raise `LeaseLostError` unless this worker still holds the plan's lease (one round
        trip: the check before a request that must not be sent twice)."""

    def lost(self, plan: str) -> anyio.Event:
        """Set when this worker learns it lost the plan's lease."""

    def on_lost(self, plan: str, callback: Callable[[], None]) -> None:
        """Call ``callback`` (once) when this worker learns it lost the plan's current lease;
        cancelling the plan's scope, say."""

    async def release(self, plan: str, *, finished: bool) -> None:
        """Give the lease back; ``finished`` plans are never claimed again."""

    async def begin(self, plan: str, stage: str) -> None:
        """Mark ``stage`` begun: what it creates may exist on the server from now on."""

    async def finish(self, plan: str, stage: str, seconds: float) -> None:
        """Mark ``stage`` done, having taken ``seconds``."""

    async def set_id(self, plan: str, key: str, value: str) -> None:
        """Record an id (or another value) of the plan."""

    async def forget(self, plan: str, key: str) -> None:
        """Drop a recorded value."""

    async def share_polls(self, ceiling: float, apply: Callable[[float], None]) -> None:
        """Share a run-wide ceiling of polls a second between the workers: ``apply`` gets this
        worker's share now, and again whenever workers join or leave."""

    async def status(self) -> JournalStatus:
        """Plans by stage, workers and leases."""

    async def aclose(self) -> None:
        """Release this worker's leases and close."""


def is_postgres_url(target: str | os.PathLike[str]) -> bool:
    """Whether ``target`` names a PostgreSQL journal rather than a SQLite file."""
    return isinstance(target, str) and target.startswith(_SCHEMES)


@asynccontextmanager
async def open_journal(target: str | os.PathLike[str]) -> AsyncIterator[JournalStore]:
    """Open the journal ``target`` names: a ``postgresql://`` URL, else a SQLite file path.

    A URL may carry ``lease_timeout`` (seconds, default 30) in its query: how long this worker's
    leases outlive its last heartbeat. Example::

        async with open_journal("postgresql://run@db/prolific?lease_timeout=60") as journal:
            print(await journal.status())
    """
    if is_postgres_url(target):
        from ._journal_pg import PostgresJournal  # psycopg is an extra: imported when used

        async with PostgresJournal.connect(str(target)) as journal:
            yield journal
        return
    if isinstance(target, str) and "://" in target:
        raise pa.ConfigurationError(
            f"journal {display_url(target)} is not supported: give a SQLite file path or a "
            "postgresql:// URL")
    opened = await Journal.open(Path(target))
    try:
        yield opened
    finally:
        await opened.aclose()


async def journal_status(journal: str | os.PathLike[str]) -> JournalStatus:
    """Where the plans of a journal stand: by stage, who holds each lease, stale leases.

    ``journal`` is a SQLite file or a ``postgresql://`` URL, as given to `orchestrate`. Reading
    a PostgreSQL journal does not join its run; a SQLite journal can only be read while no run
    has it open (`JournalInUseError`). Example::

        status = await pa.journal_status("postgresql://run@db/prolific")
        print(status.by_stage())                  # {'finished': 40, 'batch_ready (begun)': 20}
        stale = [p.plan for p in status.plans if p.stale]
    """
    if is_postgres_url(journal):
        from ._journal_pg import PostgresJournal

        async with PostgresJournal.connect(str(journal), join=False) as shared:
            return await shared.status()
    if isinstance(journal, str) and "://" in journal:
        raise pa.ConfigurationError(
            f"journal {display_url(journal)} is not supported: give a SQLite file path or a "
            "postgresql:// URL")
    path = Path(journal)
    if not await anyio.Path(path).is_file():
        raise pa.ConfigurationError(f"no journal at {str(path)!r}")
    opened = await Journal.open(path)
    try:
        return await opened.status()
    finally:
        await opened.aclose()
