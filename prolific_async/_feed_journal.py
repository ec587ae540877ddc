"""`FeedJournal`: where a `BatchFeed` remembers how far the server has its records.

A small SQLite file of its own: one row naming the batch and dataset it belongs to, the
input offset the server has acknowledged (every record before it was answered: accepted,
duplicate or rejected) and the offset the last completed sync covered. SQLite runs in a
worker thread, never on the event loop.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

import anyio

__all__ = ["FeedJournal"]

_SCHEMA = """CREATE TABLE IF NOT EXISTS feed (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    batch_id TEXT NOT NULL,
    dataset_id TEXT NOT NULL,
    acknowledged INTEGER NOT NULL,
    synced INTEGER NOT NULL
)"""


class FeedJournal:
    """The saved progress of one feed (open it with `FeedJournal.open`)."""

    def __init__(self, connection: sqlite3.Connection, path: str, acknowledged: int,
                 synced: int) -> None:
        self._connection = connection
        self.path = path
        self.acknowledged = acknowledged
        self.synced = synced
        # One statement at a time, in the order they were asked for.
        self._limiter = anyio.CapacityLimiter(1)

    def __repr__(self) -> str:
        return f"<FeedJournal {self.path!r} acknowledged={self.acknowledged}>"

    @classmethod
    async def open(cls, path: str | os.PathLike[str], *, batch_id: str,
                   dataset_id: str) -> FeedJournal:
        """Open (or create) the journal at ``path`` for this batch and dataset.

        A journal written by the feed of another batch or dataset is refused: its offset
        would skip records this feed never sent.
        """
        shown = os.fspath(path)
        connection, row = await anyio.to_thread.run_sync(_open, shown, batch_id, dataset_id)
        return cls(connection, shown, acknowledged=row[0], synced=row[1])

    async def acknowledge(self, offset: int) -> None:
        """Record that the server answered for every record before ``offset``."""
        await self._write("UPDATE feed SET acknowledged = ? WHERE id = 1", offset)
        self.acknowledged = offset

    async def synced_to(self, offset: int) -> None:
        """Record that a completed sync covered every record before ``offset``."""
        await self._write("UPDATE feed SET synced = ? WHERE id = 1", offset)
        self.synced = offset

    async def close(self) -> None:
        await anyio.to_thread.run_sync(self._connection.close, limiter=self._limiter)

    async def _write(self, sql: str, *args: Any) -> None:
        def run() -> None:
            with self._connection:
                self._connection.execute(sql, args)

        await anyio.to_thread.run_sync(run, limiter=self._limiter)


def _open(path: str, batch_id: str, dataset_id: str) -> tuple[sqlite3.Connection, tuple[int, int]]:
    """Connect, create the row on first use, check whose journal it is (blocking)."""
    connection = sqlite3.connect(path, timeout=10, check_same_thread=False)
    try:
        with connection:
            connection.execute(_SCHEMA)
            connection.execute(
                "INSERT OR IGNORE INTO feed (id, batch_id, dataset_id, acknowledged, synced) "
                "VALUES (1, ?, ?, 0, 0)", (batch_id, dataset_id))
            row = connection.execute(
                "SELECT batch_id, dataset_id, acknowledged, synced FROM feed").fetchone()
    except sqlite3.DatabaseError as exc:
        connection.close()
        raise ValueError(f"journal {path!r} is not a feed journal: {exc}") from None
    if (row[0], row[1]) != (batch_id, dataset_id):
        connection.close()
        raise ValueError(f"journal {path!r} belongs to the feed of batch {row[0]} (dataset "
                         f"{row[1]}), not batch {batch_id} (dataset {dataset_id}): give each "
                         "feed its own journal")
    return connection, (int(row[2]), int(row[3]))
