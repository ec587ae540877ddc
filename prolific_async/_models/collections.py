"""Collections: static pages of questions and content, no dataset and no setup step."""

from __future__ import annotations

from datetime import datetime

import attrs

from .common import TaskDetails
from .instructions import Item

__all__ = ["Collection", "CollectionPage"]


@attrs.frozen(kw_only=True)
class CollectionPage:
    """One page; each item's ``order`` places it on the page. Keep ``id`` to keep the page on
    update (``collections.update`` is a full replacement)."""

    order: int
    page_items: list[Item]
    id: str | None = None


@attrs.frozen(kw_only=True)
class Collection:
    id: str
    name: str | None = None
    workspace_id: str | None = None
    schema_version: int | None = None
    created_at: datetime | None = None
    created_by: str | None = None
    last_modified_at: datetime | None = None
    last_modified_by: str | None = None
    task_details: TaskDetails | None = None
    collection_items: list[CollectionPage] | None = None
    item_count: int | None = None
