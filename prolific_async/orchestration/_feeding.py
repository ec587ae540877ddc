"""`Feed`: a plan's dataset as a stream of records, and the stages that feed it.

A plan with ``dataset=pa.Feed(records, schema=...)`` gets a V4 dataset: its first records are
appended before the batch is set up (so setup has data to make tasks of), and the rest go
through a `BatchFeed` once the batch is READY and its study is out, as they come. Appending is
idempotent on the server, so a rerun simply feeds the records again: those already in come
back as duplicates.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from typing import Any

import attrs

from . import _sdk as pa

__all__ = ["Feed"]


def _schema(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, pa.DatasetSchema) or not value.fields:
        raise ValueError("Feed.schema must be a pa.DatasetSchema with at least one field")


def _first(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
        raise ValueError(f"Feed.first must be an integer from 1 to 1000, got {value!r}")


@attrs.frozen(eq=False)
class Feed:
    """A plan's dataset fed as records come: any iterable or async iterable of mappings.

    The pipeline creates a V4 dataset with ``schema``, appends the ``first`` records, creates
    and sets up the batch, puts its study out, then feeds it the rest (coalesced syncs turn
    them into tasks as they arrive) before waiting for responses. The records are read once,
    by one plan: give each plan its own ``Feed``.

    Example::

        async def outputs():
            async for answer in model.stream(prompts):
                yield {"prompt": answer.prompt, "response": answer.text}

        plan = pa.BatchPlan(name="live-1", workspace_id=WS, task_details=DETAILS,
                            dataset=pa.Feed(outputs(), schema=pa.DatasetSchema(fields={
                                "prompt": pa.SchemaField(type="text"),
                                "response": pa.SchemaField(type="text")})),
                            instructions=[pa.FreeText(description="Is it right?")])
    """

    records: Iterable[Mapping[str, Any]] | AsyncIterable[Mapping[str, Any]] = attrs.field()
    schema: pa.DatasetSchema = attrs.field(kw_only=True, validator=_schema)
    first: int = attrs.field(default=1000, kw_only=True, validator=_first)
    # The one pass over `records` the plan's stages share (made on first use).
    _cursor: list[AsyncIterator[Mapping[str, Any]]] = attrs.field(
        factory=list, init=False, repr=False)

    @records.validator
    def _check(self, attribute: attrs.Attribute[Any], value: Any) -> None:
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(
                value, (Iterable, AsyncIterable)):
            raise TypeError(f"Feed.records must be an iterable or async iterable of mappings, "
                            f"got {type(value).__name__}")

    def _stream(self) -> AsyncIterator[Mapping[str, Any]]:
        if not self._cursor:
            self._cursor.append(_records(self.records))
        return self._cursor[0]

    async def take_first(self) -> list[Mapping[str, Any]]:
        """The first ``first`` records (fewer if the stream ends sooner)."""
        stream = self._stream()
        taken: list[Mapping[str, Any]] = []
        async for record in stream:
            taken.append(record)
            if len(taken) == self.first:
                break
        return taken

    def rest(self) -> AsyncIterator[Mapping[str, Any]]:
        """The records not taken yet."""
        return self._stream()


async def _records(source: Any) -> AsyncIterator[Mapping[str, Any]]:
    if isinstance(source, AsyncIterable):
        async for record in source:
            yield record
    else:
        for record in source:
            yield record
