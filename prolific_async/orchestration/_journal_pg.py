"""The PostgreSQL journal: one run shared by many workers, plans handed out by leases.

Every worker (a process running `orchestrate` with the same ``postgresql://`` journal) has a row
in ``prolific_journal_workers`` whose ``seen`` its heartbeat refreshes every third of its lease
timeout. A plan's row names its ``holder`` and an ``epoch`` that grows by one at every change of
hands. How the pieces fit:

- **Claiming**: ``SELECT … FOR UPDATE SKIP LOCKED`` picks plans that are not finished and whose
  holder is nobody, or a worker not seen for its lease timeout; so workers claiming at the same
  moment each get other plans, without waiting on each other.
- **Fencing**: every write for a plan (an id, a stage begun or done) goes through only while the
  plan's row still names this worker and the epoch it leased, checked under a row lock in the
  same statement. A worker that was stopped (SIGSTOP, a partition, a long GC pause) past its
  timeout, and whose plans were taken over meanwhile, gets `LeaseLostError` from its next write
  instead of writing over its successor; `confirm` makes the same check before a request that
  must not be sent twice.
- **Noticing**: the heartbeat also reads back which plans the worker still holds; a lease that
  went elsewhere sets its `lost` event, so whoever waits on the server for that plan can stop
  without first trying a write. A worker whose beats have not landed for its whole timeout
  (cut off from the database) counts every lease as lost on its own.
- **Poll budget**: the run-wide ceiling of polls a second is recorded once (the first worker's
  wins); each heartbeat divides it by the number of live workers.
- **Time** is the database's clock (``now()``) for every lease decision, so workers on machines
  whose clocks disagree still agree on who is stale.

The schema is created on first use under an advisory lock (workers may start together) and
versioned in ``prolific_journal_meta``; tables carry a prefix so the journal can share a
database with other applications.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import anyio
import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from . import _sdk as pa
from ._journal import PlanRecord, StageState, changed_inputs
from ._leases import (
    DEFAULT_LEASE_TIMEOUT,
    JournalStatus,
    LeaseLostError,
    PlanLeasedError,
    WorkerStatus,
    display_url,
    plan_status,
)

__all__ = ["PostgresJournal"]

SCHEMA_VERSION = 1
_MARKER = "prolific_async journal"
#: Seconds any one statement (or a wait for a pooled connection) may take.
_STATEMENT_TIMEOUT = 30.0
_POOL_SIZE = 4

_SCHEMA = """
CREATE TABLE prolific_journal_meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE prolific_journal_workers (
    id text PRIMARY KEY, started timestamptz NOT NULL DEFAULT now(),
    seen timestamptz NOT NULL DEFAULT now(), lease_timeout double precision NOT NULL);
CREATE TABLE prolific_journal_plans (
    name text PRIMARY KEY, seq bigserial, fingerprint jsonb NOT NULL,
    holder text, epoch bigint NOT NULL DEFAULT 0, finished boolean NOT NULL DEFAULT false);
CREATE INDEX prolific_journal_plans_open ON prolific_journal_plans (seq) WHERE NOT finished;
CREATE TABLE prolific_journal_ids (
    plan text NOT NULL REFERENCES prolific_journal_plans (name), key text NOT NULL,
    value text NOT NULL, PRIMARY KEY (plan, key));
CREATE TABLE prolific_journal_stages (
    plan text NOT NULL REFERENCES prolific_journal_plans (name), stage text NOT NULL,
    state text NOT NULL, seconds double precision, PRIMARY KEY (plan, stage));
"""

#: A holder is stale when its worker row is gone or older than that worker's own timeout.
_STALE = ("(w.id IS NULL OR w.seen < now() - make_interval(secs => w.lease_timeout))")

#: A plan nobody drives: no holder, or one whose heartbeat stopped. A subquery, not a join:
#: when a row changed while being locked, PostgreSQL re-evaluates the condition on the new row,
#: and an outer join would be rechecked against the old (holderless) join result.
_FREE = ("(p.holder IS NULL OR NOT EXISTS (SELECT 1 FROM prolific_journal_workers w "
         "WHERE w.id = p.holder AND w.seen >= now() - make_interval(secs => w.lease_timeout)))")

#: The fenced write's guard: this worker holds the plan at the epoch it leased, row locked.
_HELD = """WITH held AS (
    SELECT name FROM prolific_journal_plans
    WHERE name = %(plan)s AND holder = %(me)s AND epoch = %(epoch)s FOR SHARE)"""


def _split_url(url: str) -> tuple[str, float]:
    """The URL psycopg gets (this SDK's own query options taken out), and the lease timeout."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    timeout = DEFAULT_LEASE_TIMEOUT
    kept = []
    for key, value in query:
        if key != "lease_timeout":
            kept.append((key, value))
            continue
        try:
            timeout = float(value)
        except ValueError:
            timeout = -1.0
        if not 1.0 <= timeout <= 86400.0:
            raise pa.ConfigurationError(
                f"journal URL: lease_timeout must be seconds between 1 and 86400, got {value!r}")
    return urlunsplit(parts._replace(query=urlencode(kept))), timeout


class PostgresJournal:
    """A run's journal in PostgreSQL, shared by workers. Open it with `connect` (or give
    `orchestrate` its URL); see the module docstring for leases, fencing and the heartbeat.

    Example::

        async with PostgresJournal.connect("postgresql://run@db/prolific") as journal:
            await journal.add("reviews-1", fingerprint)
            print(await journal.claim(5))
    """

    def __init__(self, pool: AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]], *,
                 where: str, lease_timeout: float) -> None:
        self.where = where
        self.lease_timeout = lease_timeout
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        #: Database round trips so far (the benchmark divides them by plans).
        self.round_trips = 0
        self._pool = pool
        #: plan → the epoch this worker leased it at, and the `_changes` count when it did.
        self._leases: dict[str, tuple[int, int]] = {}
        #: Leases taken so far: a beat judges only leases taken before it was sent (a claim
        #: that commits while the beat runs may be missing from what the beat read).
        self._changes = 0
        self._lost: dict[str, anyio.Event] = {}
        self._on_lost: dict[str, list[Callable[[], None]]] = {}
        self._share: tuple[float, Callable[[float], None]] | None = None

    shared = True

    def __repr__(self) -> str:
        return f"<PostgresJournal {self.where!r} worker={self.worker!r}>"

    @classmethod
    @asynccontextmanager
    async def connect(cls, url: str, *, join: bool = True) -> AsyncIterator[PostgresJournal]:
        """Join the run the URL's database keeps: create the schema if needed, register this
        worker and heartbeat until the block ends; then release its leases and leave. With
        ``join=False`` only look (`status`): no worker is registered."""
        conninfo, lease_timeout = _split_url(url)
        where = display_url(conninfo)
        await _prepare(conninfo, where)
        pool = AsyncConnectionPool(
            conninfo, min_size=1, max_size=_POOL_SIZE, open=False, timeout=_STATEMENT_TIMEOUT,
            kwargs={"autocommit": True, "connect_timeout": int(_STATEMENT_TIMEOUT)},
            configure=_configure)
        try:
            await pool.open(wait=True, timeout=_STATEMENT_TIMEOUT)
        except Exception as exc:
            raise pa.ConfigurationError(f"cannot open journal {where}: {exc}") from exc
        journal = cls(pool, where=where, lease_timeout=lease_timeout)
        if not join:
            try:
                yield journal
            finally:
                with anyio.CancelScope(shield=True):
                    await pool.close(timeout=_STATEMENT_TIMEOUT)
            return
        try:
            await journal._fetch(
                "INSERT INTO prolific_journal_workers (id, lease_timeout) VALUES (%s, %s)",
                (journal.worker, lease_timeout))
            async with anyio.create_task_group() as group:
                group.start_soon(journal._heartbeat)
                try:
                    yield journal
                finally:
                    group.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                try:
                    # Unreachable now: the leases expire after their timeout all the same.
                    with contextlib.suppress(psycopg.Error, TimeoutError):
                        await journal.aclose()
                finally:
                    await pool.close(timeout=_STATEMENT_TIMEOUT)

    # -- plumbing -----------------------------------------------------------------------------

    async def _fetch(self, sql: str, args: Mapping[str, Any] | tuple[Any, ...] = (), *,
                     deadline: float = _STATEMENT_TIMEOUT * 2) -> list[TupleRow]:
        """One statement, one round trip, committed. Shielded (within its deadline): a write
        in flight lands or fails whole, and the pooled connection stays usable."""
        with anyio.fail_after(deadline, shield=True):
            async with self._pool.connection() as conn:
                self.round_trips += 1
                cursor = await conn.execute(sql, args)
                return await cursor.fetchall() if cursor.description else []

    async def _fenced(self, plan: str, write: str | None, *, epoch: int | None = None,
                      **args: Any) -> None:
        """``write`` (a statement reading the one-row ``held``), made only while this worker
        holds ``plan``'s lease (see `_HELD`) at ``epoch`` (by default, the one it leased);
        None only checks."""
        if epoch is None:
            lease = self._leases.get(plan)
            if lease is None:
                raise LeaseLostError(
                    f"plan {plan!r} is not leased to this worker ({self.worker})", plan=plan)
            epoch = lease[0]
        act = f", act AS ({write})" if write else ""
        rows = await self._fetch(f"{_HELD}{act} SELECT 1 FROM held",
                                 {"plan": plan, "me": self.worker, "epoch": epoch, **args})
        if not rows:
            self._lose(plan)
            raise LeaseLostError(
                f"plan {plan!r}: this worker ({self.worker}) lost its lease: another worker "
                "took the plan over after this one's heartbeat went unseen for "
                f"{self.lease_timeout:g} s; it does nothing more for the plan", plan=plan)

    def _lose(self, plan: str) -> None:
        self._leases.pop(plan, None)
        self.lost(plan).set()
        for callback in self._on_lost.pop(plan, []):
            callback()

    # -- plans --------------------------------------------------------------------------------

    async def add(self, plan: str, fingerprint: Mapping[str, str]) -> None:
        await self._add(plan, dict(fingerprint))

    async def _add(self, plan: str, fingerprint: dict[str, str]) -> bool:
        """False when the plan is new to the journal."""
        encoded = json.dumps(fingerprint, sort_keys=True)
        # Inserted, or the recorded fingerprint (one round trip either way).
        rows = await self._fetch(
            "WITH ins AS (INSERT INTO prolific_journal_plans (name, fingerprint) "
            "VALUES (%(plan)s, %(fp)s) ON CONFLICT (name) DO NOTHING RETURNING 1) "
            "SELECT NULL::jsonb FROM ins UNION ALL "
            "SELECT fingerprint FROM prolific_journal_plans WHERE name = %(plan)s "
            "AND NOT EXISTS (SELECT 1 FROM ins)", {"plan": plan, "fp": encoded})
        if not rows:
            # Inserted by another worker while this statement ran: its snapshot missed it.
            rows = await self._fetch(
                "SELECT fingerprint FROM prolific_journal_plans WHERE name = %s", (plan,))
        recorded = rows[0][0]
        if recorded is None:
            return False
        if changed_inputs(plan, recorded, fingerprint):
            await self._fetch("UPDATE prolific_journal_plans SET fingerprint = %s WHERE name = %s",
                              (encoded, plan))
        return True

    async def enter(self, plan: str, fingerprint: Mapping[str, str]) -> PlanRecord:
        known = await self._add(plan, dict(fingerprint))
        if plan not in self._leases:
            rows = await self._fetch(
                "WITH pick AS (SELECT p.name FROM prolific_journal_plans p "
                f"WHERE p.name = %(plan)s AND {_FREE} FOR UPDATE SKIP LOCKED) "
                "UPDATE prolific_journal_plans p SET holder = %(me)s, epoch = p.epoch + 1 "
                "FROM pick WHERE p.name = pick.name RETURNING p.epoch",
                {"plan": plan, "me": self.worker})
            if not rows:
                holder = await self._fetch(
                    "SELECT holder FROM prolific_journal_plans WHERE name = %s", (plan,))
                who = str(holder[0][0]) if holder and holder[0][0] else "another worker"
                raise PlanLeasedError(f"plan {plan!r} is driven by worker {who}", plan=plan,
                                      holder=who)
            self._take(plan, int(rows[0][0]))
        return await self._load(plan) if known else PlanRecord()

    async def claim(self, limit: int) -> list[str]:
        if limit < 1:
            return []
        rows = await self._fetch(
            "WITH pick AS (SELECT p.name FROM prolific_journal_plans p "
            f"WHERE NOT p.finished AND {_FREE} "
            "ORDER BY p.seq LIMIT %(limit)s FOR UPDATE SKIP LOCKED) "
            "UPDATE prolific_journal_plans p SET holder = %(me)s, epoch = p.epoch + 1 "
            "FROM pick WHERE p.name = pick.name RETURNING p.name, p.epoch, p.seq",
            {"limit": limit, "me": self.worker})
        for name, epoch, _ in rows:
            self._take(name, int(epoch))
        return [str(name) for name, _, _ in sorted(rows, key=lambda row: row[2])]

    def _take(self, plan: str, epoch: int) -> None:
        self._changes += 1
        self._leases[plan] = (epoch, self._changes)
        self._lost[plan] = anyio.Event()  # a fresh lease, not yet lost
        self._on_lost.pop(plan, None)

    async def _load(self, plan: str) -> PlanRecord:
        rows = await self._fetch(
            "SELECT 'id', key, value, NULL FROM prolific_journal_ids WHERE plan = %(plan)s "
            "UNION ALL SELECT 'stage', stage, state, seconds FROM prolific_journal_stages "
            "WHERE plan = %(plan)s", {"plan": plan})
        record = PlanRecord()
        for kind, key, value, seconds in rows:
            if kind == "id":
                record.ids[key] = value
            else:
                record.stages[key] = StageState(value)
                if seconds is not None:
                    record.seconds[key] = seconds
        return record

    async def peek(self, plan: str) -> tuple[PlanRecord, bool]:
        finished = await self._fetch(
            "SELECT finished FROM prolific_journal_plans WHERE name = %s", (plan,))
        return await self._load(plan), bool(finished and finished[0][0])

    async def confirm(self, plan: str) -> None:
        await self._fenced(plan, None)

    def lost(self, plan: str) -> anyio.Event:
        return self._lost.setdefault(plan, anyio.Event())

    def on_lost(self, plan: str, callback: Callable[[], None]) -> None:
        if self.lost(plan).is_set():
            callback()
        else:
            self._on_lost.setdefault(plan, []).append(callback)

    async def release(self, plan: str, *, finished: bool) -> None:
        # Forgotten first: a beat running meanwhile must not take the release for a loss.
        lease = self._leases.pop(plan, None)
        if lease is None:
            return
        await self._fenced(plan, "UPDATE prolific_journal_plans p SET holder = NULL, "
                           "finished = p.finished OR %(finished)s FROM held "
                           "WHERE p.name = held.name", epoch=lease[0], finished=finished)

    async def begin(self, plan: str, stage: str) -> None:
        await self._stage(plan, stage, StageState.BEGUN, None)

    async def finish(self, plan: str, stage: str, seconds: float) -> None:
        await self._stage(plan, stage, StageState.DONE, seconds)

    async def _stage(self, plan: str, stage: str, state: StageState, seconds: float | None
                     ) -> None:
        await self._fenced(
            plan, "INSERT INTO prolific_journal_stages SELECT name, %(stage)s, %(state)s, "
            "%(seconds)s FROM held ON CONFLICT (plan, stage) DO UPDATE SET state = "
            "EXCLUDED.state, seconds = EXCLUDED.seconds", stage=stage, state=state.value,
            seconds=seconds)

    async def set_id(self, plan: str, key: str, value: str) -> None:
        await self._fenced(
            plan, "INSERT INTO prolific_journal_ids SELECT name, %(key)s, %(value)s FROM held "
            "ON CONFLICT (plan, key) DO UPDATE SET value = EXCLUDED.value", key=key,
            value=value)

    async def forget(self, plan: str, key: str) -> None:
        await self._fenced(plan, "DELETE FROM prolific_journal_ids i USING held "
                           "WHERE i.plan = held.name AND i.key = %(key)s", key=key)

    # -- workers ------------------------------------------------------------------------------

    async def share_polls(self, ceiling: float, apply: Callable[[float], None]) -> None:
        await self._fetch("INSERT INTO prolific_journal_meta VALUES ('poll_ceiling', %s) "
                          "ON CONFLICT (key) DO NOTHING", (repr(float(ceiling)),))
        self._share = (ceiling, apply)
        await self._beat()

    async def _heartbeat(self) -> None:
        # Three beats a timeout: one late or failed beat costs no lease.
        interval = self.lease_timeout / 3
        # When the last beat that landed was sent: the database recorded it later than that,
        # so the leases last at least until ``sent + lease_timeout`` by this worker's clock.
        last_sent = anyio.current_time()
        while True:
            await anyio.sleep(interval)
            sent = anyio.current_time()
            try:
                await self._beat(deadline=interval)
            except (psycopg.Error, TimeoutError):
                # Cut off from the database past the timeout: others may take the plans over,
                # so this worker must act as if it lost them all.
                if anyio.current_time() - last_sent >= self.lease_timeout:
                    for plan in list(self._leases):
                        self._lose(plan)
                continue
            last_sent = sent

    async def _beat(self, *, deadline: float = _STATEMENT_TIMEOUT * 2) -> None:
        """Refresh this worker's ``seen``; learn which leases it still holds and how many
        workers share the poll budget."""
        judged = self._changes
        [(held, live, ceiling)] = await self._fetch(
            "WITH beat AS (INSERT INTO prolific_journal_workers (id, lease_timeout) "
            "VALUES (%(me)s, %(timeout)s) ON CONFLICT (id) DO UPDATE SET seen = now() "
            "RETURNING id) "
            "SELECT (SELECT coalesce(json_object_agg(name, epoch), '{}') "
            "        FROM prolific_journal_plans WHERE holder = %(me)s), "
            "       (SELECT count(*) FROM prolific_journal_workers w "
            f"        WHERE w.id <> %(me)s AND NOT {_STALE}) + 1, "
            "       (SELECT value FROM prolific_journal_meta WHERE key = 'poll_ceiling') "
            "FROM beat", {"me": self.worker, "timeout": self.lease_timeout}, deadline=deadline)
        for plan, (epoch, taken) in list(self._leases.items()):
            if taken <= judged and held.get(plan) != epoch:
                self._lose(plan)
        if self._share is not None:
            recorded = float(ceiling) if ceiling is not None else self._share[0]
            self._share[1](recorded / int(live))

    async def status(self) -> JournalStatus:
        rows = await self._fetch(
            "SELECT p.name, p.finished, p.holder, p.holder IS NOT NULL AND "
            f"{_STALE}, coalesce((SELECT json_agg(json_build_array(s.stage, s.state)) "
            "FROM prolific_journal_stages s WHERE s.plan = p.name), '[]') "
            "FROM prolific_journal_plans p LEFT JOIN prolific_journal_workers w "
            "ON w.id = p.holder ORDER BY p.seq")
        workers = await self._fetch(
            "SELECT w.id, extract(epoch FROM now() - w.seen), NOT "
            f"{_STALE}, (SELECT count(*) FROM prolific_journal_plans p WHERE p.holder = w.id) "
            "FROM prolific_journal_workers w ORDER BY w.started")
        ceiling = await self._fetch(
            "SELECT value FROM prolific_journal_meta WHERE key = 'poll_ceiling'")
        return JournalStatus(
            tuple(plan_status(name, [tuple(pair) for pair in stages], finished=finished,
                              holder=holder, stale=bool(stale))
                  for name, finished, holder, stale, stages in rows),
            tuple(WorkerStatus(worker, float(age), bool(live), int(leases))
                  for worker, age, live, leases in workers),
            float(ceiling[0][0]) if ceiling else None)

    async def aclose(self) -> None:
        """Hand back every lease unfinished and leave the run, so the others re-divide the
        poll budget at once rather than after a timeout."""
        with anyio.CancelScope(shield=True):
            self._leases.clear()
            await self._fetch(
                "WITH freed AS (UPDATE prolific_journal_plans SET holder = NULL "
                "WHERE holder = %(me)s) DELETE FROM prolific_journal_workers WHERE id = %(me)s",
                {"me": self.worker})


async def _configure(conn: psycopg.AsyncConnection[TupleRow]) -> None:
    """Every pooled connection: no statement runs unbounded."""
    await conn.execute(f"SET statement_timeout = {int(_STATEMENT_TIMEOUT * 1000)}")


async def _prepare(conninfo: str, where: str) -> None:
    """Create the schema on first use, or check the one found is this SDK's, at its version."""
    try:
        conn = await psycopg.AsyncConnection.connect(
            conninfo, autocommit=True, connect_timeout=int(_STATEMENT_TIMEOUT))
    except psycopg.Error as exc:
        raise pa.ConfigurationError(f"cannot open journal {where}: {exc}") from exc
    async with conn:
        with anyio.fail_after(_STATEMENT_TIMEOUT * 2):
            async with conn.transaction():
                # Workers starting together: one creates, the others then find it made.
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (_MARKER,))
                found = await (await conn.execute(
                    "SELECT to_regclass('prolific_journal_meta') IS NOT NULL")).fetchone()
                if found is None or not found[0]:
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            await conn.execute(statement)
                    await conn.execute("INSERT INTO prolific_journal_meta VALUES "
                                       "('kind', %s), ('schema_version', %s)",
                                       (_MARKER, str(SCHEMA_VERSION)))
                    return
                meta: dict[str, str] = dict(await (await conn.execute(
                    "SELECT key, value FROM prolific_journal_meta")).fetchall())
    if meta.get("kind") != _MARKER:
        raise pa.ConfigurationError(
            f"{where} has a prolific_journal_meta table this SDK did not write; it was left "
            "untouched: give another database (or schema) as the journal")
    if meta.get("schema_version") != str(SCHEMA_VERSION):
        raise pa.ConfigurationError(
            f"journal {where} has schema version {meta.get('schema_version')}, this SDK "
            f"writes {SCHEMA_VERSION}")
