"""``client.collections``: static pages of questions, exported like batches."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from .._converter import converter
from .._models.collections import Collection, CollectionPage
from .._models.common import TaskDetails
from .._models.instructions import Item
from ._base import DC, ITEM_MODEL, models, required, segment, task_details_body, with_extra
from ._exports import Exports, export_job

__all__ = ["Collections"]


class Collections(Exports):
    """Collections (early access): no dataset and no setup; publish a study on them at once.

    Example::

        col = await client.collections.create(
            name="survey", workspace_id=WS, task_details=details,
            collection_items=[pa.CollectionPage(order=0, page_items=[pa.FreeText(
                order=0, description="Anything to add?")])])
    """

    _export_job = export_job("collection_export")

    def _root(self, collection_id: str) -> str:
        return f"{DC}/collections/{segment('collection_id', collection_id)}"

    async def list(
        self, *, workspace_id: str, limit: int | None = None, offset: int | None = None
    ) -> list[Collection]:
        """The collections of a workspace, ``limit`` at a time from ``offset``."""
        params: dict[str, str | int] = {"workspace_id": required("workspace_id", workspace_id)}
        if limit is not None:
            params["limit"] = limit
        if offset is not None:
            params["offset"] = offset
        collections: list[Collection] = await self._call(
            "GET", f"{DC}/collections", Collection, rows=True, params=params)
        return collections

    async def create(
        self, *, name: str, workspace_id: str, task_details: TaskDetails,
        collection_items: Sequence[CollectionPage], extra: Mapping[str, Any] | None = None,
    ) -> Collection:
        """Create a collection: pages of items, no dataset, no setup (``extra``: body fields
        this SDK does not know yet)."""
        body = with_extra(_body(name, task_details, collection_items), extra)
        body["workspace_id"] = required("workspace_id", workspace_id)
        collection: Collection = await self._call(
            "POST", f"{DC}/collections", Collection, json_body=body, idempotent=False
        )
        return collection

    async def get(self, collection_id: str) -> Collection:
        """A collection with its pages."""
        collection: Collection = await self._call("GET", self._root(collection_id),
                                                  Collection)
        return collection

    async def update(
        self, collection_id: str, *, name: str, task_details: TaskDetails,
        collection_items: Sequence[CollectionPage], extra: Mapping[str, Any] | None = None,
    ) -> Collection:
        """Replace the collection whole: pages and items without their ``id`` are created,
        existing ones left out are deleted."""
        collection: Collection = await self._call(
            "PUT", self._root(collection_id), Collection,
            json_body=with_extra(_body(name, task_details, collection_items), extra),
        )
        return collection

    async def responses(self, collection_id: str) -> AsyncIterator[dict[str, Any]]:
        """Raw response records (Prolific documents this endpoint as "coming soon")."""
        rows: list[dict[str, Any]] = await self._call(
            "GET", f"{self._root(collection_id)}/responses", dict[str, Any], rows=True)
        for row in rows:
            yield row


def _body(name: str, task_details: TaskDetails,
          collection_items: Sequence[CollectionPage]) -> dict[str, Any]:
    pages = models("collection_items", collection_items, CollectionPage, "a pa.CollectionPage")
    if not pages:
        raise ValueError("collection_items must hold at least one page")
    for index, page in enumerate(pages):
        models(f"collection_items[{index}].page_items", page.page_items, Item, ITEM_MODEL)
    return {
        "name": required("name", name),
        "task_details": task_details_body(task_details),
        "collection_items": converter.unstructure(pages, list[CollectionPage]),
    }
