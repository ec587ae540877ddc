"""`BatchFeed`: records sent from any number of tasks, appended to a batch's V4 dataset in
requests of up to 1,000, and turned into tasks by coalesced batch syncs.

Two tasks do the work. The sender takes records from a bounded buffer (so ``send`` waits
when it is full: backpressure), cuts them into requests and appends them one request at a
time. The syncer runs one sync at a time: each append that adds records drops a "sync
wanted" mark into a one-slot stream, so however many appends land while a sync runs, exactly
one more sync follows it, and never two at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Literal, Protocol

import anyio
import anyio.lowlevel
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ._config import PollPolicy
from ._context import Context
from ._errors import JobNotStarted, OutcomeUnknownError, RequestInfo, UnexpectedResponseError
from ._feed_journal import FeedJournal
from ._models.appends import FeedResult
from ._models.batches import Batch, BatchStatus, BatchSync
from ._resources._appending import (
    KEEP_REJECTIONS,
    MAX_RECORDS,
    MAX_REQUEST_BYTES,
    Appender,
    Batcher,
    Records,
    Tally,
    encode,
    records_of,
)
from ._watch import Watch

__all__ = ["DEFAULT_BUFFER", "DEFAULT_LINGER", "BatchFeed", "SyncMode"]

logger = logging.getLogger("prolific_async")

#: Records a feed holds before ``send`` waits.
DEFAULT_BUFFER = 2 * MAX_RECORDS
#: How long the sender waits for more records before sending a request that is not full.
DEFAULT_LINGER = 0.05
#: Times a sync whose answer was lost is asked for again (a second sync is harmless).
SYNC_ATTEMPTS = 3

SyncMode = Literal["auto"] | bool


class _Batches(Protocol):
    """What a feed needs of ``client.batches``."""

    async def get(self, batch_id: str) -> Batch: ...
    async def sync(self, batch_id: str) -> BatchSync: ...
    async def wait_ready(self, batch_id: str, *, poll: PollPolicy | None = None) -> Batch: ...
    def watch_sync(self, batch_id: str, sync_id: str, *,
                   poll: PollPolicy | None = None) -> Watch[BatchSync]: ...


class BatchFeed:
    """A continuous feed of records into a live batch; get one from ``client.batches.feed``.

    ``await feed.send(record)`` and ``await feed.send_many(records)`` may be called from any
    number of tasks. Records are appended to the batch's V4 dataset in requests of up to
    1,000 (409 windows waited out, as in `Datasets.append`) and a batch sync turns them
    into tasks: syncs never overlap, and one started while records keep coming is followed
    by one more. ``send`` waits while ``buffer`` records are waiting: memory stays bounded.

    Leaving the block sends what is buffered, runs the last sync and waits for it;
    ``feed.result`` then holds the counts, the rejections (each with its index in the order
    the feed took the records, and the record) and the syncs. An error leaving the block
    stops the feed: buffered records are not sent.

    ``sync``: ``"auto"`` syncs unless the batch syncs itself (``auto_sync_enabled``);
    ``True`` always, ``False`` never (a batch not set up yet takes every record at setup).

    With ``journal`` (a file path), the feed records in a small SQLite file how many records
    the server has acknowledged, and a feed started again with the same journal skips that
    many records before sending: after a crash, run the same input through it again. The
    records between the last acknowledgement and the crash are sent a second time, and since
    identical records are idempotent on the server they come back as duplicates: sending is
    at least once, which is exactly once in effect. The input must reach the feed in the
    same order each run (send from one task, or one ``send_many``).

    Example::

        async with client.batches.feed(batch.id, journal="feed.db") as feed:
            async with anyio.create_task_group() as tg:
                for worker in workers:
                    tg.start_soon(worker.run, feed.send)   # each awaits feed.send(record)
        print(feed.result.accepted, feed.result.tasks_created)
    """

    # Made when the block is entered (they belong to its event loop).
    _closing: anyio.Event
    _group: TaskGroup

    def __init__(
        self, *, context: Context, batches: _Batches, batch_id: str,
        dataset_id: str | None = None, sync: SyncMode = "auto",
        journal: str | os.PathLike[str] | None = None, buffer: int = DEFAULT_BUFFER,
        linger: float = DEFAULT_LINGER, max_request_records: int = MAX_RECORDS,
        max_request_bytes: int = MAX_REQUEST_BYTES, keep_rejections: int = KEEP_REJECTIONS,
        poll: PollPolicy | None = None,
    ) -> None:
        if sync not in ("auto", True, False) or (sync != "auto" and not isinstance(sync, bool)):
            raise ValueError(f"sync must be 'auto', True or False, got {sync!r}")
        if isinstance(buffer, bool) or not isinstance(buffer, int) or buffer < 1:
            raise ValueError(f"buffer must be an integer >= 1, got {buffer!r}")
        if isinstance(linger, bool) or not isinstance(linger, (int, float)) or \
                not 0 <= linger <= 60:
            raise ValueError(f"linger must be a number of seconds from 0 to 60, got {linger!r}")
        self.batch_id = batch_id
        self.dataset_id = dataset_id
        self._context = context
        self._batches = batches
        self._sync_mode = sync
        self._journal_path = journal
        self._buffer = buffer
        self._linger = float(linger)
        self._batcher = Batcher(max_request_records, max_request_bytes)
        self._tally = Tally(keep_rejections)
        self._poll = poll
        self._syncing = False
        self._ready = False
        self._journal: FeedJournal | None = None
        self._records: MemoryObjectSendStream[bytes] | None = None
        self._taken = 0      # records taken from the buffer (the next one's index)
        self._skip = 0       # records a resumed feed skips (the journal's offset)
        self._skipped = 0
        self._acknowledged = 0
        self._syncs = 0
        self._tasks_created = 0

    def __repr__(self) -> str:
        return f"<BatchFeed batch={self.batch_id} dataset={self.dataset_id}>"

    @property
    def result(self) -> FeedResult:
        """The counts so far (final once the block is left)."""
        return FeedResult(syncs=self._syncs, tasks_created=self._tasks_created,
                          skipped=self._skipped, **self._tally.fields())

    # -- sending ----------------------------------------------------------------------------

    async def send(self, record: Mapping[str, Any]) -> None:
        """Queue one record; waits while the buffer is full. A record that is not a mapping
        of JSON values is refused here, in the caller's task."""
        line = encode(record, None, self._batcher.max_bytes)
        if self._records is None:
            raise RuntimeError("the feed is not open: use `async with client.batches.feed(...)`")
        try:
            # Room in the buffer: no trip round the event loop (one per record would cost
            # more than the rest of the feed); a full buffer waits for the sender.
            self._records.send_nowait(line)
            return
        except anyio.WouldBlock:
            pass
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            await self._refuse_closed()
        try:
            await self._records.send(line)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            await self._refuse_closed()

    @staticmethod
    async def _refuse_closed() -> None:
        # The sender may have stopped on an error: let the feed's cancellation reach this
        # task first, so the caller sees that error rather than this one.
        await anyio.lowlevel.checkpoint()
        raise RuntimeError("the feed is closed: send records inside its `async with` block")

    async def send_many(self, records: Records) -> None:
        """Queue every record of an iterable or async iterable, in order."""
        async for record in records_of(records):
            await self.send(record)

    # -- the block --------------------------------------------------------------------------

    async def __aenter__(self) -> BatchFeed:
        if self._records is not None:
            raise RuntimeError("a feed is used for one `async with` block: make a new one")
        batch = await self._batches.get(self.batch_id)
        if self.dataset_id is None:
            if not batch.datasets:
                raise ValueError(f"batch {self.batch_id} has no dataset: pass dataset_id")
            self.dataset_id = batch.datasets[0].id
        self._syncing = (not batch.auto_sync_enabled if self._sync_mode == "auto"
                         else bool(self._sync_mode))
        self._ready = batch.status is BatchStatus.READY
        if self._syncing and batch.status is BatchStatus.UNINITIALISED:
            raise JobNotStarted(
                f"batch {self.batch_id} is not set up, so it cannot sync: set it up first "
                "(client.batches.setup) or feed it with sync=False",
                kind="batch", resource_id=self.batch_id, status=str(batch.status))
        appender = Appender(self._context, self.dataset_id, self._poll)
        if self._journal_path is not None:
            self._journal = await FeedJournal.open(self._journal_path, batch_id=self.batch_id,
                                                   dataset_id=self.dataset_id)
            self._skip = self._acknowledged = self._journal.acknowledged
        send, receive = anyio.create_memory_object_stream[bytes](self._buffer)
        wanted, syncs = anyio.create_memory_object_stream[None](1)
        if self._syncing and self._journal is not None and \
                self._journal.synced < self._journal.acknowledged:
            wanted.send_nowait(None)  # the crashed run appended records it never synced
        self._records = send
        self._closing = anyio.Event()  # set when the block is left
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        self._group.start_soon(self._sender, appender, receive, wanted)
        if self._syncing:
            self._group.start_soon(self._syncer, syncs)
        else:
            syncs.close()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> bool | None:
        assert self._records is not None
        try:
            if exc is None:
                self._records.close()  # the sender sends what is left, then ends
                self._closing.set()
            else:
                self._group.cancel_scope.cancel()
            try:
                return bool(await self._group.__aexit__(exc_type, exc, tb))
            except BaseException as raised:
                # One failure is raised as itself, not wrapped in a group of one.
                leaf = _single(raised)
                if leaf is raised:
                    raise
                raise leaf from None
        finally:
            self._records.close()
            if self._journal is not None:
                with anyio.CancelScope(shield=True):
                    await self._journal.close()

    # -- the two tasks ----------------------------------------------------------------------

    def _take(self, line: bytes) -> bool:
        """Number a record taken from the buffer; False when a resumed feed skips it."""
        index = self._taken
        self._taken += 1
        if index < self._skip:
            self._skipped += 1
            return False
        self._batcher.add(index, line)
        return True

    async def _sender(self, appender: Appender, receive: MemoryObjectReceiveStream[bytes],
                      wanted: MemoryObjectSendStream[None]) -> None:
        batcher = self._batcher
        pending: bytes | None = None  # a record taken that did not fit the last request
        async with receive, wanted:
            ended = False
            while True:
                if pending is not None:
                    self._take(pending)
                    pending = None
                elif not ended:
                    try:
                        self._take(await receive.receive())
                    except anyio.EndOfStream:
                        ended = True
                lingered = False
                # Whatever is already waiting joins this request, up to its limits; a
                # request not yet full waits `linger` once for a trickle to fill it.
                while not ended and not batcher.full:
                    try:
                        line = receive.receive_nowait()
                    except anyio.WouldBlock:
                        if lingered or not self._linger or not len(batcher):
                            break
                        lingered = True
                        # Leaving the block ends the wait: nothing more is coming.
                        with anyio.move_on_after(self._linger):
                            await self._closing.wait()
                        continue
                    except anyio.EndOfStream:
                        ended = True
                        break
                    if not batcher.fits(line):
                        pending = line
                        break
                    self._take(line)
                await self._flush(appender, wanted)
                if ended and pending is None:
                    return

    async def _flush(self, appender: Appender, wanted: MemoryObjectSendStream[None]) -> None:
        chunk = self._batcher.take()
        if chunk is None:
            return
        answer = await appender.send(chunk)
        self._tally.add(chunk, answer)
        self._acknowledged = chunk.start + len(chunk.lines)
        if self._journal is not None:
            # The server has these records: write that down even if the feed is being
            # cancelled (a quick local write), so a resumed feed sends fewer of them again.
            with anyio.CancelScope(shield=True):
                await self._journal.acknowledge(self._acknowledged)
        if self._syncing and answer.accepted_count:
            # When a sync is already wanted, it will cover these records too; when the syncer
            # has stopped (the feed is being cancelled) there is nobody to ask.
            with contextlib.suppress(anyio.WouldBlock, anyio.BrokenResourceError):
                wanted.send_nowait(None)

    async def _syncer(self, syncs: MemoryObjectReceiveStream[None]) -> None:
        async with syncs:
            async for _ in syncs:
                await self._sync_once()

    async def _sync_once(self) -> None:
        if not self._ready:
            await self._batches.wait_ready(self.batch_id, poll=self._poll)
            self._ready = True
        covered = self._acknowledged
        job = await self._start_sync()
        if not job.sync_id:
            raise UnexpectedResponseError(
                f"the sync of batch {self.batch_id} was answered without a sync_id",
                body=None, request=RequestInfo("POST", f"batches/{self.batch_id}/sync"))
        done = await self._batches.watch_sync(self.batch_id, job.sync_id,
                                              poll=self._poll).wait()
        self._syncs += 1
        self._tasks_created += done.tasks_created or 0
        logger.debug("feed of batch %s: sync %s made %s tasks", self.batch_id, job.sync_id,
                     done.tasks_created)
        if self._journal is not None:
            await self._journal.synced_to(covered)

    async def _start_sync(self) -> BatchSync:
        for attempt in range(1, SYNC_ATTEMPTS + 1):
            try:
                return await self._batches.sync(self.batch_id)
            except OutcomeUnknownError:
                # A sync whose answer was lost may or may not have been queued; asking
                # again is harmless (a sync with nothing new to do makes no tasks).
                if attempt == SYNC_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")


def _single(error: BaseException) -> BaseException:
    """The one exception inside nested groups of one, or the group itself."""
    # Duck-typed: the builtin BaseExceptionGroup on 3.11+, the backport's on 3.10.
    inner = getattr(error, "exceptions", None)
    if isinstance(inner, tuple) and len(inner) == 1:
        return _single(inner[0])
    return error
