"""`watch_many`: many watches of any kind, fanned in to one stream."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import attrs
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ._errors import ProlificError
from ._watch import Transition, Watch

__all__ = ["WatchFailure", "watch_many"]


@attrs.frozen
class WatchFailure:
    """One watch of a `watch_many` ended in an error (`ResourceFailed`, `PollTimeout`, an
    API error ...); the other watches go on."""

    kind: str
    resource_id: str
    error: ProlificError


Event = Transition[Any] | WatchFailure


@asynccontextmanager
async def watch_many(
    watches: Iterable[Watch[Any]], *, buffer: int = 64
) -> AsyncIterator[MemoryObjectReceiveStream[Event]]:
    """Run many watches at once and read their transitions from one stream.

    Each watch polls in its own task; the stream yields every `Transition` as it happens and
    a `WatchFailure` for a watch that failed, so one failure never stops the others. The
    stream ends when every watch has ended. Leaving the block early stops all polling (and
    cancels nothing on the server).

    Example::

        watches = [client.batches.watch(b.id) for b in batches]
        async with prolific_async.watch_many(watches) as stream:
            async for event in stream:
                if isinstance(event, prolific_async.WatchFailure):
                    print(event.resource_id, "failed:", event.error)
                else:
                    print(event.resource_id, event.previous, "->", event.current)
    """
    send, receive = anyio.create_memory_object_stream[Event](buffer)

    async def drive(watch: Watch[Any], out: MemoryObjectSendStream[Event]) -> None:
        async with out, watch:
            try:
                async for transition in watch:
                    await out.send(transition)
            except ProlificError as exc:
                await out.send(WatchFailure(kind=watch.kind, resource_id=watch.resource_id,
                                            error=exc))

    async with receive, anyio.create_task_group() as group:
        with send:
            for watch in watches:
                group.start_soon(drive, watch, send.clone())
        # The block reads the stream in this task; the task group only runs the pollers.
        yield receive
        group.cancel_scope.cancel()
