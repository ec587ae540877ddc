"""Appending records to a V4 dataset: encoding, cutting into requests, sending one request
(waiting out the server's 409 windows), and adding up the answers.

Shared by ``datasets.append`` (one input, read in order) and `BatchFeed` (records sent to it
from any number of tasks). Identical records are idempotent on the server, so sending a
request again (a retry after a lost answer, a resumed feed) is safe: the records come back
as duplicates.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping
from typing import Any

import anyio
import attrs

from .._backend import loop_time
from .._config import PollPolicy
from .._context import Context
from .._errors import ConflictError
from .._models.appends import AppendAnswer, AppendResult, Rejection
from .._polling import next_delay
from .._transport import parse_retry_after
from ._base import DC, segment, structure

__all__ = ["KEEP_REJECTIONS", "MAX_RECORDS", "MAX_REQUEST_BYTES", "Appender", "Batcher",
           "Chunk", "Progress", "Records", "Tally", "append_all", "encode", "records_of"]

logger = logging.getLogger("prolific_async")

#: The API takes at most this many records a request.
MAX_RECORDS = 1000
#: And the SDK sends at most this many bytes a request (the API publishes no ceiling; this
#: keeps a request well under common proxy limits and bounds what one request holds).
MAX_REQUEST_BYTES = 4 << 20
#: Rejections kept with their details; beyond this only the counts grow (bounded memory).
KEEP_REJECTIONS = 10_000
NDJSON = "application/x-ndjson"

#: One encoder for every record: ``json.dumps`` with options builds a new one each call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)

#: What ``append`` and ``send_many`` take: any iterable or async iterable of mappings.
Records = Iterable[Mapping[str, Any]] | AsyncIterable[Mapping[str, Any]]
#: Called after each answered request with how many records have been answered so far.
Progress = Callable[[int], None]


def encode(record: Any, index: int | None, max_bytes: int = MAX_REQUEST_BYTES) -> bytes:
    """One record as an NDJSON line (without its newline), or a clear error naming its
    ``index`` in the caller's input (when known)."""
    what = "record" if index is None else f"record {index}"
    if not isinstance(record, Mapping):
        raise TypeError(f"{what} must be a mapping (a JSON object), "
                        f"got {type(record).__name__}")
    for key in record:
        if not isinstance(key, str):
            raise TypeError(f"{what} has a field name that is not a string: {key!r}")
    try:
        line = _ENCODER.encode(record if isinstance(record, dict) else dict(record)).encode()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} is not JSON: {exc}") from None
    if len(line) + 1 > max_bytes:
        raise ValueError(f"{what} is {len(line)} bytes: more than one request may carry "
                         f"({max_bytes} bytes)")
    return line


@attrs.define
class Chunk:
    """Records for one request: NDJSON lines, the first of them record ``start`` of the
    input (the rest follow it in order)."""

    start: int
    lines: list[bytes] = attrs.Factory(list)
    size: int = 0

    def body(self) -> bytes:
        return b"\n".join(self.lines) + b"\n"


class Batcher:
    """Cuts a stream of encoded records into chunks of at most ``max_records`` records and
    ``max_bytes`` bytes."""

    def __init__(self, max_records: int = MAX_RECORDS, max_bytes: int = MAX_REQUEST_BYTES):
        if isinstance(max_records, bool) or not isinstance(max_records, int) or \
                not 1 <= max_records <= MAX_RECORDS:
            raise ValueError(f"max_request_records must be an integer from 1 to {MAX_RECORDS}, "
                             f"got {max_records!r}")
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 2:
            raise ValueError(f"max_request_bytes must be an integer >= 2, got {max_bytes!r}")
        self.max_records = max_records
        self.max_bytes = max_bytes
        self._chunk: Chunk | None = None

    def __len__(self) -> int:
        return len(self._chunk.lines) if self._chunk else 0

    @property
    def full(self) -> bool:
        return len(self) >= self.max_records

    def fits(self, line: bytes) -> bool:
        chunk = self._chunk
        return chunk is None or (len(chunk.lines) < self.max_records
                                 and chunk.size + len(line) + 1 <= self.max_bytes)

    def add(self, index: int, line: bytes) -> None:
        """Add record ``index`` (the one after the last added, or the first of a chunk)."""
        if self._chunk is None:
            self._chunk = Chunk(start=index)
        self._chunk.lines.append(line)
        self._chunk.size += len(line) + 1

    def take(self) -> Chunk | None:
        chunk, self._chunk = self._chunk, None
        return chunk


class Tally:
    """The answers added up, with each rejection placed back in the caller's input."""

    def __init__(self, keep: int = KEEP_REJECTIONS) -> None:
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
            raise ValueError(f"keep_rejections must be an integer >= 0, got {keep!r}")
        self.keep = keep
        self.accepted = self.duplicates = self.rejected = self.requests = 0
        self.rejections: list[Rejection] = []

    @property
    def answered(self) -> int:
        return self.accepted + self.duplicates + self.rejected

    def add(self, chunk: Chunk, answer: AppendAnswer) -> None:
        self.requests += 1
        self.accepted += answer.accepted_count
        self.duplicates += answer.duplicate_count
        self.rejected += answer.rejected_count
        for error in answer.errors or ():
            if len(self.rejections) >= self.keep:
                break
            at = error.record_index
            known = at is not None and 0 <= at < len(chunk.lines)
            self.rejections.append(Rejection(
                index=chunk.start + at if known and at is not None else None,
                field=error.field, reason=error.reason,
                record=json.loads(chunk.lines[at]) if known and at is not None else None))

    def fields(self) -> dict[str, Any]:
        """The counts and rejections so far, as `AppendResult` keyword arguments."""
        return {"accepted": self.accepted, "duplicates": self.duplicates,
                "rejected": self.rejected, "rejections": list(self.rejections),
                "requests": self.requests}


class Appender:
    """Sends chunks to one dataset's datapoints endpoint.

    A ``409`` (an import or a schema migration is running) is waited out on the poll
    policy's cadence, up to its deadline, then raised. Other failures are the transport's:
    connection errors and 5xx are retried, since identical records are idempotent.
    """

    def __init__(self, context: Context, dataset_id: str, poll: PollPolicy | None = None):
        self._context = context
        self._path = f"{DC}/datasets/{segment('dataset_id', dataset_id)}/datapoints"
        self._poll = poll or context.poll
        self._rng: random.Random = context.watch_env.rng
        #: How many 409 answers were waited out.
        self.conflicts = 0

    async def send(self, chunk: Chunk) -> AppendAnswer:
        body = chunk.body()
        policy = self._poll
        started = loop_time()
        attempt = 0
        while True:
            try:
                response = await self._context.transport.request(
                    "POST", self._path, content=(NDJSON, body))
            except ConflictError as exc:
                left = started + policy.deadline - loop_time()
                if left <= 0:
                    raise
                self.conflicts += 1
                hint = parse_retry_after(exc.headers.get("Retry-After"))
                delay = min(left, next_delay(policy, attempt, hint=hint,
                                             spread=self._rng.random()))
                logger.debug("%s: 409 (%s); trying again in %.2f s", exc.request, exc.detail,
                             delay)
                await anyio.sleep(delay)
                attempt += 1
                continue
            answer: AppendAnswer = structure(response, response.data, AppendAnswer)
            return answer


async def records_of(records: Records) -> AsyncIterator[Any]:
    """The records of an iterable or an async iterable, refusing a single record or text
    passed where many are expected."""
    if isinstance(records, (str, bytes, Mapping)):
        raise TypeError("records must be an iterable of mappings (e.g. a list of dicts), "
                        f"got a single {type(records).__name__}")
    if isinstance(records, AsyncIterable):
        async for record in records:
            yield record
    elif isinstance(records, Iterable):
        for record in records:
            yield record
    else:
        raise TypeError(f"records must be an iterable or an async iterable of mappings, got "
                        f"{type(records).__name__}")


async def append_all(
    appender: Appender, records: Records, batcher: Batcher,
    tally: Tally, progress: Progress | None = None,
) -> AppendResult:
    """Append every record, one request at a time, and return the counts."""
    index = 0

    async def flush() -> None:
        chunk = batcher.take()
        if chunk is not None:
            tally.add(chunk, await appender.send(chunk))
            if progress is not None:
                progress(tally.answered)

    async for record in records_of(records):
        line = encode(record, index, batcher.max_bytes)
        if not batcher.fits(line):
            await flush()
        batcher.add(index, line)
        index += 1
    await flush()
    return AppendResult(**tally.fields())
