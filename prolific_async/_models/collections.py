"""Collections: static pages of questions and content, no dataset and no setup step."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from .common import TaskDetails, extra_field
from .instructions import Item

__all__ = ["Collection", "CollectionPage"]


@attrs.frozen(kw_only=True)
class CollectionPage:
    """One page of a collection; each item's ``order`` places it on the page.

    Keep ``id`` (the page's and its items') to keep them on update: ``collections.update``
    is a full replacement.

    Example::

        pa.CollectionPage(order=0, page_items=[
            pa.RichText(order=0, content="<p>About you</p>"),
            pa.FreeText(order=1, description="What is your job?"),
        ])
    """

    order: int
    page_items: list[Item]
    id: str | None = None
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class Collection:
    """A collection as the API returns it (no status: it can be attached to a study at once).

    Example::

        collection = await client.collections.create(
            name="survey", workspace_id=WS, task_details=details, collection_items=pages)
    """

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
