"""The journal: one SQLite file that makes a run resumable.

Per plan it keeps the fingerprint of the plan's inputs, each id the moment it is known, and
each stage begun and finished. A stage that creates something is marked *begun*, committed
(WAL), before it sends anything; the ids and outputs it keeps and its end are committed with
the next trip to the journal's thread, at the latest with the plan's next *begun*, without
the pipeline waiting for them. So after a crash the journal is never behind by more than the
step in flight, and that step is marked begun: the pipeline then asks the server what
happened instead of guessing.

SQLite is used through the standard library in a worker thread (writes never block the event
loop, and one connection serialises them). A thousand plans write at once, and a trip to a
thread costs more than a write, so writes are carried in groups: whoever finds the thread free
takes every write waiting by then, in order, in one trip (`Journal._run`). The file is opened
with an exclusive lock, so a second run on the same journal, in this process or another, is
refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import math
import os
import sqlite3
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import anyio
import attrs

from . import _sdk as pa
from ._leases import JournalStatus, plan_status

logger = logging.getLogger("prolific_async")

__all__ = ["Journal", "JournalInUseError", "PlanChangedError", "PlanRecord", "StageState"]

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS plans (
    name TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS ids (
    plan TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (plan, key));
CREATE TABLE IF NOT EXISTS stages (
    plan TEXT NOT NULL, stage TEXT NOT NULL, state TEXT NOT NULL, seconds REAL,
    PRIMARY KEY (plan, stage));
"""
_VERSION = "1"
#: The SQLite header's application id of a journal ("PRLF"), so `file` and this SDK know it.
_APPLICATION_ID = 0x50524C46
_TABLES = frozenset({"meta", "plans", "ids", "stages"})
#: The key of `ids` that marks a plan driven to its end.
_FINISHED = "finished"


class JournalInUseError(pa.ProlificError, RuntimeError):
    """The journal file is open in another run (another process, or another `orchestrate`)."""


class PlanChangedError(pa.ProlificError, ValueError):
    """A plan's inputs differ from those recorded in the journal for the same plan name.

    Resuming would mix what the old inputs created with the new ones, so the plan is not run.
    ``changed`` names the inputs that differ.
    """

    def __init__(self, message: str, *, plan: str, changed: list[str]) -> None:
        super().__init__(message)
        self.plan = plan
        self.changed = changed


class StageState(str, enum.Enum):
    """Where the journal saw a stage last: its request may have been sent, or it is done."""

    BEGUN = "begun"
    DONE = "done"


@attrs.define
class PlanRecord:
    """What the journal knows of one plan."""

    ids: dict[str, str] = attrs.Factory(dict)
    stages: dict[str, StageState] = attrs.Factory(dict)
    seconds: dict[str, float] = attrs.Factory(dict)


class Journal:
    """An open journal. Use `Journal.open` (async); every method runs in the journal's thread.

    Example::

        journal = await Journal.open("run.db")
        try:
            record = await journal.enter("reviews-1", fingerprint)
        finally:
            await journal.aclose()
    """

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._db = connection
        # One trip to the thread at a time touches the connection; see `_run`.
        self._waiting: list[_Call] = []
        self._trip: anyio.Event | None = None  # set when the trip under way ends
        # Writes nobody waits for are carried by a task of their own (`_post`); their errors
        # wait for their plan's next awaited call.
        self._carriers: set[asyncio.Task[None]] = set()
        self._failed: dict[str, Exception] = {}
        # One run holds the file, so its leases need no database: it holds them all.
        self._added: dict[str, None] = {}
        self._leased: set[str] = set()
        self._finished: set[str] = set()

    def __repr__(self) -> str:
        return f"<Journal {str(self.path)!r}>"

    @classmethod
    async def open(cls, path: str | os.PathLike[str]) -> Journal:
        return await anyio.to_thread.run_sync(cls._open, Path(path))

    @classmethod
    def _open(cls, path: Path) -> Journal:
        created = _check_openable(path)
        try:
            db = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise pa.ConfigurationError(f"cannot open journal {str(path)!r}: {exc}") from exc
        try:
            # The lock is taken by the first statement and, in EXCLUSIVE mode, held until close
            # (so WAL then needs no shared memory). A crashed process's lock dies with it.
            db.execute("PRAGMA locking_mode=EXCLUSIVE")
            db.execute("BEGIN EXCLUSIVE")
            # Only reads until the file is known to be a journal (or empty): another
            # application's database is refused before a single byte of it changes.
            fresh = _identify(path, db)
            db.execute("COMMIT")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("BEGIN EXCLUSIVE")
            if fresh:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute("INSERT INTO meta VALUES ('version', ?)", (_VERSION,))
            # Stamped on journals written before the marker existed too.
            db.execute(f"PRAGMA application_id={_APPLICATION_ID}")
            db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            db.close()
            if "locked" in str(exc) or "busy" in str(exc):
                raise JournalInUseError(
                    f"journal {str(path)!r} is in use by another run (another process, or "
                    "another orchestrate() in this one); wait for it to end, or use another "
                    "journal file") from None
            _remove_if(created, path)
            raise pa.ConfigurationError(f"cannot open journal {str(path)!r}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            db.close()
            raise pa.ConfigurationError(
                f"{str(path)!r} is not a prolific_async journal: {exc}") from exc
        except BaseException:
            db.close()
            _remove_if(created, path)
            raise
        return cls(path, db)

    async def _run(self, fn: Callable[..., T], *args: Any, in_transaction: bool = True) -> T:
        """``fn(*args)`` on the connection, in the journal's worker thread, in call order.

        Group commit: a call joins the calls waiting; when no trip to the thread is under
        way, the caller takes every waiting call in one trip, and callers whose call went in
        it wake when it ends (no trip of their own). A trip is one transaction, committed
        before any caller goes on; a call that fails undoes only its own writes (`_run_calls`).
        """
        call = _Call(fn, args, in_transaction=in_transaction, statement=fn == self._execute)
        self._waiting.append(call)
        # Not abandoned on cancellation: a write in flight finishes (and commits) first, so a
        # cancelled run leaves the journal consistent.
        with anyio.CancelScope(shield=True):
            while not call.done:
                if self._trip is None:
                    await self._carry()
                else:
                    await self._trip.wait()
        if call.error is not None:
            raise call.error
        return call.result  # type: ignore[no-any-return]

    async def _carry(self) -> None:
        group, self._waiting = self._waiting, []
        self._trip = trip = anyio.Event()
        try:
            await anyio.to_thread.run_sync(_run_calls, self._db, group)
        except BaseException as exc:
            # The trip itself broke: every call it took ends with that, none waits forever.
            for call in group:
                if not call.done:
                    call.error = RuntimeError(f"the journal's thread failed: {exc!r}")
                    call.done = True
            raise
        finally:
            self._trip = None
            for call in group:
                if call.plan is not None and call.error is not None:
                    self._failed.setdefault(call.plan, call.error)
            trip.set()

    def _post(self, plan: str, fn: Callable[..., Any], *args: Any) -> None:
        """``fn(*args)`` in call order like `_run`, but nobody waits for it: a carrier task
        takes it with the next trip (after the one under way, if any). For the writes that
        only save requests (an id, a stage done): lost in a crash, the stage is still marked
        begun and the next run asks the server. An error is raised by the plan's next
        `begin`, `forget` or `release`."""
        self._waiting.append(_Call(fn, args, plan=plan, statement=fn == self._execute))
        if not self._carriers:
            carrier = asyncio.get_running_loop().create_task(self._carry_posted())
            self._carriers.add(carrier)
            carrier.add_done_callback(self._carriers.discard)

    async def _carry_posted(self) -> None:
        # A trip under way took its calls already: whoever started it carries only those.
        with contextlib.suppress(Exception):  # each call keeps its own error
            while self._waiting:
                if self._trip is None:
                    await self._carry()
                else:
                    await self._trip.wait()

    def _raise_failed(self, plan: str) -> None:
        failed = self._failed.pop(plan, None)
        if failed is not None:
            raise failed

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):
            while self._carriers:  # the writes nobody waited for land first
                await asyncio.wait(set(self._carriers))
            await self._run(self._db.close, in_transaction=False)
        for plan, error in self._failed.items():
            logger.warning("journal %s: a write of plan %r failed: %r; a rerun asks the "
                           "server instead", self.path, plan, error)

    # -- reads and writes ---------------------------------------------------------------------

    async def enter(self, plan: str, fingerprint: Mapping[str, str]) -> PlanRecord:
        """Record ``plan`` with its input fingerprint, or load what an earlier run recorded.

        Raises `PlanChangedError` when the recorded inputs differ.
        """
        return await self._run(self._enter, plan, dict(fingerprint))

    def _enter(self, plan: str, fingerprint: dict[str, str]) -> PlanRecord:
        self._leased.add(plan)
        if not self._add(plan, fingerprint):
            return PlanRecord()
        return self._load(plan)

    def _load(self, plan: str) -> PlanRecord:
        record = PlanRecord()
        db = self._db
        for key, value in db.execute("SELECT key, value FROM ids WHERE plan=?", (plan,)):
            record.ids[key] = value
        for stage, state, seconds in db.execute(
                "SELECT stage, state, seconds FROM stages WHERE plan=?", (plan,)):
            record.stages[stage] = StageState(state)
            if seconds is not None:
                record.seconds[stage] = seconds
        return record

    async def add(self, plan: str, fingerprint: Mapping[str, str]) -> None:
        """Record ``plan`` with its fingerprint, or check it (`PlanChangedError`)."""
        await self._run(self._add, plan, dict(fingerprint))

    def _add(self, plan: str, fingerprint: dict[str, str]) -> bool:
        """False when the plan is new to the journal."""
        self._added.setdefault(plan, None)
        db = self._db
        row = db.execute("SELECT fingerprint FROM plans WHERE name=?", (plan,)).fetchone()
        if row is None:
            db.execute("INSERT INTO plans VALUES (?, ?, ?)",
                       (plan, json.dumps(fingerprint, sort_keys=True), time.time()))
            return False
        if changed_inputs(plan, json.loads(row[0]), fingerprint):
            db.execute("UPDATE plans SET fingerprint=? WHERE name=?",
                       (json.dumps(fingerprint, sort_keys=True), plan))
        return True

    async def begin(self, plan: str, stage: str) -> None:
        """Mark ``stage`` begun: what it creates may exist on the server from now on.
        Awaited (committed) before the stage sends anything."""
        self._raise_failed(plan)
        await self._run(self._execute, "INSERT OR REPLACE INTO stages VALUES (?, ?, ?, NULL)",
                        (plan, stage, StageState.BEGUN.value))

    async def finish(self, plan: str, stage: str, seconds: float) -> None:
        """Mark ``stage`` done. Not waited for (`_post`): committed by the next trip."""
        self._post(plan, self._execute, "INSERT OR REPLACE INTO stages VALUES (?, ?, ?, ?)",
                   (plan, stage, StageState.DONE.value, seconds))

    async def set_id(self, plan: str, key: str, value: str) -> None:
        """Keep an id or an output. Not waited for (`_post`): committed by the next trip,
        at the latest with the plan's next `begin`, before that stage sends anything."""
        self._post(plan, self._execute, "INSERT OR REPLACE INTO ids VALUES (?, ?, ?)",
                   (plan, key, value))

    async def forget(self, plan: str, key: str) -> None:
        self._raise_failed(plan)
        await self._run(self._execute, "DELETE FROM ids WHERE plan=? AND key=?", (plan, key))

    def _execute(self, sql: str, args: tuple[Any, ...]) -> None:
        # In the trip's transaction, committed with it (`_run_calls`).
        self._db.execute(sql, args)

    # -- leases: the file's lock makes this run the one worker -----------------------------

    shared = False
    lease_timeout = math.inf

    async def peek(self, plan: str) -> tuple[PlanRecord, bool]:
        return await self._run(self._load, plan), plan in self._finished

    async def claim(self, limit: int) -> list[str]:
        """Up to ``limit`` plans added in this run and neither leased nor finished."""
        free = [p for p in self._added if p not in self._leased and p not in self._finished]
        self._leased.update(free[:limit])
        return free[:limit]

    async def confirm(self, plan: str) -> None:
        """Nothing to check: no other worker can hold a lease on a locked file."""

    def lost(self, plan: str) -> anyio.Event:
        return anyio.Event()  # never set

    def on_lost(self, plan: str, callback: Callable[[], None]) -> None:
        """Never called: the file's one run cannot lose a lease."""

    async def release(self, plan: str, *, finished: bool) -> None:
        self._leased.discard(plan)
        self._raise_failed(plan)
        if finished:
            self._finished.add(plan)
            # For `journal status`: stages alone cannot say so (skipped ones are not recorded).
            await self.set_id(plan, _FINISHED, "1")

    async def share_polls(self, ceiling: float, apply: Callable[[float], None]) -> None:
        apply(ceiling)  # the one worker's share is the whole

    async def status(self) -> JournalStatus:
        """Plans by their furthest stage (read from the file, which this run holds)."""
        return await self._run(self._status)

    def _status(self) -> JournalStatus:
        rows: dict[str, list[tuple[str, str]]] = {
            name: [] for (name,) in self._db.execute("SELECT name FROM plans ORDER BY created_at")}
        for plan, stage, state in self._db.execute("SELECT plan, stage, state FROM stages"):
            rows.setdefault(plan, []).append((stage, state))
        finished = {plan for (plan,) in self._db.execute(
            "SELECT plan FROM ids WHERE key=?", (_FINISHED,))}
        return JournalStatus(tuple(plan_status(plan, found, finished=plan in finished)
                                   for plan, found in rows.items()))


@attrs.define
class _Call:
    """One call waiting for the journal's thread, and what came of it."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    done: bool = False
    result: Any = None
    error: Exception | None = None
    #: False for a call that must not run inside a transaction (closing the connection).
    in_transaction: bool = True
    #: The plan of a call nobody waits for (`Journal._post`), whose error waits for it.
    plan: str | None = None
    #: One SQL statement (`Journal._execute`): SQLite undoes a failing statement by itself,
    #: so it needs no savepoint of its own (two statements fewer in the thread, per call).
    statement: bool = False


def _run_calls(db: sqlite3.Connection, calls: list[_Call]) -> None:
    """Run ``calls`` in order (blocking), in one transaction committed before any of them is
    done; each keeps its own result or error.

    A savepoint around each call of several statements undoes the writes of a call that
    fails, and only those (SQLite undoes a single failing statement by itself). One commit a
    trip, not one a statement: a thousand plans write about 27,000 times, and each
    commit is a write to the WAL file. A call that cannot run inside a transaction (closing
    the connection) goes after a commit of the calls before it.
    """
    pending: list[_Call] = []  # succeeded; done once committed
    try:
        for call in calls:
            if not call.in_transaction:
                _commit(db, pending)
                _run_alone(call)
                continue
            if not _in_transaction(db):
                db.execute("BEGIN")
            guarded = not call.statement
            if guarded:
                db.execute("SAVEPOINT call")
            try:
                call.result = call.fn(*call.args)
            except Exception as exc:  # handed to the call's own caller
                call.error, call.done = exc, True
                if not _in_transaction(db):  # SQLite rolled it all back (disk full, I/O)
                    _fail(pending, exc)
                    continue
                if guarded:
                    db.execute("ROLLBACK TO call")
            else:
                pending.append(call)
            if guarded:
                db.execute("RELEASE call")
        _commit(db, pending)
    finally:
        if _in_transaction(db):  # the trip itself broke: none of its writes is kept
            db.rollback()


def _in_transaction(db: sqlite3.Connection) -> bool:
    try:
        return db.in_transaction
    except sqlite3.ProgrammingError:  # closed (the last call of the journal)
        return False


def _run_alone(call: _Call) -> None:
    try:
        call.result = call.fn(*call.args)
    except Exception as exc:
        call.error = exc
    call.done = True


def _commit(db: sqlite3.Connection, pending: list[_Call]) -> None:
    """Commit the open transaction; the calls in it are done (with its error if it fails)."""
    if _in_transaction(db):
        try:
            db.execute("COMMIT")
        except Exception as exc:
            db.rollback()
            _fail(pending, exc)
    for call in pending:
        call.done = True
    pending.clear()


def _fail(pending: list[_Call], error: Exception) -> None:
    """The writes of ``pending`` were rolled back: each call ends with ``error``."""
    for call in pending:
        call.result, call.error, call.done = None, error, True
    pending.clear()


def changed_inputs(plan: str, recorded: Mapping[str, str], fingerprint: Mapping[str, str]) -> bool:
    """Raise `PlanChangedError` when an input of ``plan`` differs from the one recorded; True
    when inputs were only added (a study on a plan that had none), so the record is updated."""
    changed = sorted(key for key, value in recorded.items() if fingerprint.get(key) != value)
    if changed:
        raise PlanChangedError(
            f"plan {plan!r} changed since the journal recorded it ({', '.join(changed)}); "
            "what it created from the old inputs exists on the server and a rerun (with "
            "this journal, a new one or none) finds it by the plan's name: rename the plan "
            "to create anew, or delete its batch first",
            plan=plan, changed=changed)
    return recorded.keys() != fingerprint.keys()


def _check_openable(path: Path) -> bool:
    """Refuse a path SQLite could not open, saying why; True when this call created the file.

    SQLite itself only says "unable to open database file", without the path or the cause.
    """
    if path.is_dir():
        raise pa.ConfigurationError(f"cannot open journal {str(path)!r}: it is a directory")
    if not path.parent.is_dir():
        what = "is not a folder" if path.parent.exists() else "does not exist"
        raise pa.ConfigurationError(
            f"cannot open journal {str(path)!r}: its folder {str(path.parent)!r} {what}")
    existed = path.exists()
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o666))
    except OSError as exc:
        raise pa.ConfigurationError(
            f"cannot open journal {str(path)!r}: {exc.strerror or exc}") from None
    return not existed


def _identify(path: Path, db: sqlite3.Connection) -> bool:
    """Whether the open database is new (True) or this SDK's journal (False); else refuse."""
    application = db.execute("PRAGMA application_id").fetchone()[0]
    tables = {name for (name,) in db.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")}
    user_version = db.execute("PRAGMA user_version").fetchone()[0]
    if application == 0 and not tables and user_version == 0:
        return True
    # Journals written before the marker are known by their tables and version row.
    marked = application == _APPLICATION_ID or (application == 0 and tables == _TABLES)
    found = db.execute("SELECT value FROM meta WHERE key='version'").fetchone() if (
        marked and "meta" in tables) else None
    if found is None:
        listed = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
        raise pa.ConfigurationError(
            f"{str(path)!r} is not a prolific_async journal (a SQLite database of another "
            f"application{': tables ' + listed if tables else ''}); it was left untouched: "
            "give a new file as the journal")
    if found[0] != _VERSION:
        raise pa.ConfigurationError(
            f"journal {str(path)!r} has version {found[0]}, this SDK writes {_VERSION}")
    return False


def _remove_if(created: bool, path: Path) -> None:
    """Take back the empty file `_check_openable` made, so a refused path stays as it was."""
    if created:
        with contextlib.suppress(OSError):
            path.unlink()
