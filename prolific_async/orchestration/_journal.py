"""The journal: one SQLite file that makes a run resumable.

Per plan it keeps the fingerprint of the plan's inputs, each id the moment it is known, and
each stage begun and finished. Every write is committed (WAL) before the pipeline goes on, so
after a crash the journal is never behind by more than the one step in flight, and that step
is marked *begun*: the pipeline then asks the server what happened instead of guessing.

SQLite is used through the standard library in one worker thread (writes never block the
event loop, and one connection serialises them). The file is opened with an exclusive lock,
so a second run on the same journal, in this process or another, is refused.
"""

from __future__ import annotations

import enum
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import anyio
import attrs

from . import _sdk as pa

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
        # One thread at a time touches the connection; the limiter queues writers in order.
        self._limiter = anyio.CapacityLimiter(1)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Journal {str(self.path)!r}>"

    @classmethod
    async def open(cls, path: str | os.PathLike[str]) -> Journal:
        return await anyio.to_thread.run_sync(cls._open, Path(path))

    @classmethod
    def _open(cls, path: Path) -> Journal:
        db = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
        try:
            # EXCLUSIVE before WAL: the lock is taken by the first write and held until close,
            # and WAL then needs no shared memory. A crashed process's lock dies with it.
            db.execute("PRAGMA locking_mode=EXCLUSIVE")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("BEGIN EXCLUSIVE")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            found = db.execute("SELECT value FROM meta WHERE key='version'").fetchone()
            if found is None:
                db.execute("INSERT INTO meta VALUES ('version', ?)", (_VERSION,))
            elif found[0] != _VERSION:
                raise pa.ConfigurationError(
                    f"journal {str(path)!r} has version {found[0]}, this SDK writes {_VERSION}")
            db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            db.close()
            if "locked" in str(exc) or "busy" in str(exc):
                raise JournalInUseError(
                    f"journal {str(path)!r} is in use by another run (another process, or "
                    "another orchestrate() in this one); wait for it to end, or use another "
                    "journal file") from None
            raise pa.ConfigurationError(f"cannot open journal {str(path)!r}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            db.close()
            raise pa.ConfigurationError(
                f"{str(path)!r} is not a prolific_async journal: {exc}") from exc
        except BaseException:
            db.close()
            raise
        return cls(path, db)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        def locked() -> T:
            with self._lock:
                return fn(*args)

        # Not abandoned on cancellation: a write in flight finishes (and commits) first, so a
        # cancelled run leaves the journal consistent.
        return await anyio.to_thread.run_sync(locked, limiter=self._limiter)

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):
            await self._run(self._db.close)

    # -- reads and writes ---------------------------------------------------------------------

    async def enter(self, plan: str, fingerprint: Mapping[str, str]) -> PlanRecord:
        """Record ``plan`` with its input fingerprint, or load what an earlier run recorded.

        Raises `PlanChangedError` when the recorded inputs differ.
        """
        return await self._run(self._enter, plan, dict(fingerprint))

    def _enter(self, plan: str, fingerprint: dict[str, str]) -> PlanRecord:
        db = self._db
        row = db.execute("SELECT fingerprint FROM plans WHERE name=?", (plan,)).fetchone()
        if row is None:
            db.execute("INSERT INTO plans VALUES (?, ?, ?)",
                       (plan, json.dumps(fingerprint, sort_keys=True), time.time()))
            return PlanRecord()
        recorded: dict[str, str] = json.loads(row[0])
        # An input added since (a study on a plan that had none) changes nothing created.
        changed = sorted(key for key, value in recorded.items() if fingerprint.get(key) != value)
        if changed:
            raise PlanChangedError(
                f"plan {plan!r} changed since the journal recorded it ({', '.join(changed)}); "
                "what it created from the old inputs exists on the server and a rerun (with "
                "this journal, a new one or none) finds it by the plan's name: rename the plan "
                "to create anew, or delete its batch first",
                plan=plan, changed=changed)
        if recorded.keys() != fingerprint.keys():
            db.execute("UPDATE plans SET fingerprint=? WHERE name=?",
                       (json.dumps(fingerprint, sort_keys=True), plan))
        record = PlanRecord()
        for key, value in db.execute("SELECT key, value FROM ids WHERE plan=?", (plan,)):
            record.ids[key] = value
        for stage, state, seconds in db.execute(
                "SELECT stage, state, seconds FROM stages WHERE plan=?", (plan,)):
            record.stages[stage] = StageState(state)
            if seconds is not None:
                record.seconds[stage] = seconds
        return record

    async def begin(self, plan: str, stage: str) -> None:
        """Mark ``stage`` begun: what it creates may exist on the server from now on."""
        await self._run(self._execute, "INSERT OR REPLACE INTO stages VALUES (?, ?, ?, NULL)",
                        (plan, stage, StageState.BEGUN.value))

    async def finish(self, plan: str, stage: str, seconds: float) -> None:
        await self._run(self._execute, "INSERT OR REPLACE INTO stages VALUES (?, ?, ?, ?)",
                        (plan, stage, StageState.DONE.value, seconds))

    async def set_id(self, plan: str, key: str, value: str) -> None:
        await self._run(self._execute, "INSERT OR REPLACE INTO ids VALUES (?, ?, ?)",
                        (plan, key, value))

    async def forget(self, plan: str, key: str) -> None:
        await self._run(self._execute, "DELETE FROM ids WHERE plan=? AND key=?", (plan, key))

    def _execute(self, sql: str, args: tuple[Any, ...]) -> None:
        # Autocommit mode: each statement is its own committed transaction.
        self._db.execute(sql, args)
