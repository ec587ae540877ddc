"""Studies: how a batch or collection reaches participants (and is paid for)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from .common import OpenEnum

__all__ = [
    "DataCollectionMetadata",
    "DataCollectionMethod",
    "Study",
    "StudyAction",
    "StudyCreate",
    "StudyStatus",
]


class DataCollectionMethod(OpenEnum):
    AI_TASK_BUILDER_BATCH = "AI_TASK_BUILDER_BATCH"
    AI_TASK_BUILDER_COLLECTION = "AI_TASK_BUILDER_COLLECTION"
    #: The legacy value older docs and the CLI's example still use.
    DC_TOOL = "DC_TOOL"


class StudyStatus(OpenEnum):
    UNPUBLISHED = "UNPUBLISHED"
    SCHEDULED = "SCHEDULED"
    ACTIVE = "ACTIVE"
    AWAITING_REVIEW = "AWAITING REVIEW"
    PAUSED = "PAUSED"
    COMPLETED = "COMPLETED"


class StudyAction(OpenEnum):
    PUBLISH = "PUBLISH"
    PAUSE = "PAUSE"
    START = "START"
    STOP = "STOP"


@attrs.frozen(kw_only=True)
class DataCollectionMetadata:
    annotators_per_task: int | None = None
    total_task_groups: int | None = None


@attrs.frozen(kw_only=True)
class StudyCreate:
    """The body of ``POST /studies/`` for an AI Task Builder study.

    Fields the SDK does not model in detail (filters, completion codes, ...) are plain JSON.
    ``data_collection_id`` is the batch or collection id; the batch must be READY.

    Example::

        pa.StudyCreate(
            name="Rate responses", description="...", reward=100,
            total_available_places=50, estimated_completion_time=5,
            data_collection_method=pa.DataCollectionMethod.AI_TASK_BUILDER_BATCH,
            data_collection_id=batch.id,
            data_collection_metadata=pa.DataCollectionMetadata(annotators_per_task=1),
        )
    """

    name: str
    description: str
    data_collection_id: str
    data_collection_method: DataCollectionMethod = DataCollectionMethod.AI_TASK_BUILDER_BATCH
    internal_name: str | None = None
    reward: int | None = None
    total_available_places: int | None = None
    estimated_completion_time: int | None = None
    maximum_allowed_time: int | None = None
    prolific_id_option: str | None = None
    completion_code: str | None = None
    completion_codes: list[dict[str, Any]] | None = None
    device_compatibility: list[str] | None = None
    peripheral_requirements: list[str] | None = None
    filters: list[dict[str, Any]] | None = None
    filter_set_id: str | None = None
    study_labels: list[str] | None = None
    submissions_config: dict[str, Any] | None = None
    data_collection_metadata: DataCollectionMetadata | None = None
    project: str | None = None


@attrs.frozen(kw_only=True)
class Study:
    id: str
    name: str | None = None
    internal_name: str | None = None
    status: StudyStatus | None = None
    description: str | None = None
    data_collection_method: DataCollectionMethod | None = None
    data_collection_id: str | None = None
    data_collection_metadata: DataCollectionMetadata | None = None
    total_available_places: int | None = None
    places_taken: int | None = None
    reward: int | None = None
    estimated_completion_time: int | None = None
    project: str | None = None
    date_created: datetime | None = None
    published_at: datetime | None = None
