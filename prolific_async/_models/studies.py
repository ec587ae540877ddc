"""Studies: how a batch or collection reaches participants (and is paid for).

`StudyCreate` models every field of the study-create bodies in Prolific's guide, the CLI's
templates and the skills repository's AI Task Builder template; a field added to the API since
goes in ``extra``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from .common import OpenEnum, extra_field

__all__ = [
    "AccessDetail",
    "CompletionAction",
    "CompletionActionType",
    "CompletionCode",
    "CompletionCodeType",
    "DataCollectionMetadata",
    "DataCollectionMethod",
    "Study",
    "StudyAction",
    "StudyCost",
    "StudyCreate",
    "StudyFilter",
    "StudyStatus",
    "SubmissionsConfig",
]


class DataCollectionMethod(OpenEnum):
    """What ``data_collection_id`` of a study points at: a batch or a collection."""

    AI_TASK_BUILDER_BATCH = "AI_TASK_BUILDER_BATCH"
    AI_TASK_BUILDER_COLLECTION = "AI_TASK_BUILDER_COLLECTION"
    #: The legacy value older docs and the CLI's example still use.
    DC_TOOL = "DC_TOOL"


class StudyStatus(OpenEnum):
    """A study's status; ``studies.transition`` moves it."""

    UNPUBLISHED = "UNPUBLISHED"
    SCHEDULED = "SCHEDULED"
    ACTIVE = "ACTIVE"
    AWAITING_REVIEW = "AWAITING REVIEW"
    PAUSED = "PAUSED"
    COMPLETED = "COMPLETED"


class StudyAction(OpenEnum):
    """The ``action`` of ``POST /studies/{id}/transition/``."""

    PUBLISH = "PUBLISH"
    PAUSE = "PAUSE"
    START = "START"
    STOP = "STOP"


class CompletionCodeType(OpenEnum):
    """The predefined kinds of completion code (any other text is accepted too)."""

    COMPLETED = "COMPLETED"
    FAILED_ATTENTION_CHECK = "FAILED_ATTENTION_CHECK"
    FOLLOW_UP_STUDY = "FOLLOW_UP_STUDY"
    GIVE_BONUS = "GIVE_BONUS"
    INCOMPATIBLE_DEVICE = "INCOMPATIBLE_DEVICE"
    NO_CONSENT = "NO_CONSENT"
    OTHER = "OTHER"


class CompletionActionType(OpenEnum):
    """What happens to a submission completed with a code."""

    AUTOMATICALLY_APPROVE = "AUTOMATICALLY_APPROVE"
    MANUALLY_REVIEW = "MANUALLY_REVIEW"
    ADD_TO_PARTICIPANT_GROUP = "ADD_TO_PARTICIPANT_GROUP"
    REMOVE_FROM_PARTICIPANT_GROUP = "REMOVE_FROM_PARTICIPANT_GROUP"
    REQUEST_RETURN = "REQUEST_RETURN"
    DYNAMIC_PAYMENT = "DYNAMIC_PAYMENT"


@attrs.frozen(kw_only=True)
class CompletionAction:
    """One action of a `CompletionCode`; ``participant_group`` goes with the participant-group
    actions, ``return_reason`` with ``REQUEST_RETURN``.

    Example::

        pa.CompletionAction(action=pa.CompletionActionType.ADD_TO_PARTICIPANT_GROUP,
                            participant_group="619e049f7648a4e1f8f3645b")
    """

    action: CompletionActionType
    participant_group: str | None = None
    return_reason: str | None = None
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class CompletionCode:
    """A code a participant ends the study with, and what it does to the submission.

    ``code`` may be None only for the ``participant`` actor with no actions (no code asked).
    ``actor`` is ``"participant"`` (the server's default) or ``"researcher"``.

    Example::

        pa.CompletionCode(code="ABC123", code_type=pa.CompletionCodeType.COMPLETED,
                          actions=[pa.CompletionAction(
                              action=pa.CompletionActionType.MANUALLY_REVIEW)])
    """

    code: str | None
    code_type: CompletionCodeType
    actions: list[CompletionAction]
    actor: str | None = None
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class StudyFilter:
    """Who may take the study: a ``select`` filter (``selected_values``, optional
    ``weightings``) or a ``range`` filter (``selected_range`` with ``lower`` / ``upper``).

    Example::

        pa.StudyFilter(filter_id="participant_group_allowlist",
                       selected_values=["123458388bd36ffaae123456"])
    """

    filter_id: str
    selected_values: list[str] | None = None
    weightings: dict[str, int | float] | None = None
    selected_range: dict[str, Any] | None = None
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class SubmissionsConfig:
    """Submissions per participant (``-1``: any number, up to the places) and concurrent
    submissions (``-1``: unlimited).

    Example::

        pa.SubmissionsConfig(max_submissions_per_participant=1)
    """

    max_submissions_per_participant: int | None = None
    max_concurrent_submissions: int | None = None
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class AccessDetail:
    """A Taskflow destination: ``total_allocation`` of the places go to ``external_url``.

    Example::

        pa.AccessDetail(external_url="https://example.com/task-1", total_allocation=20)
    """

    external_url: str
    total_allocation: int
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class DataCollectionMetadata:
    """How a batch is handed out: ``annotators_per_task`` (may be raised after publishing,
    never lowered).

    Example::

        pa.DataCollectionMetadata(annotators_per_task=3)
    """

    annotators_per_task: int | None = None
    total_task_groups: int | None = None
    extra: Mapping[str, Any] = extra_field()


def _default_method(study: StudyCreate) -> DataCollectionMethod | None:
    # A study attached to a data collection is most often for a batch; a study with no
    # data_collection_id (an external URL, Taskflow) has no method.
    if study.data_collection_id is None:
        return None
    return DataCollectionMethod.AI_TASK_BUILDER_BATCH


#: What an AI Task Builder study asks for the participant's Prolific ID when the caller does
#: not say: ``"question"``, as in both official bodies that use the current
#: ``AI_TASK_BUILDER_*`` methods (the skills repository's batch template and the CLI docs'
#: collection study); the ``"not_required"`` examples are the legacy ``DC_TOOL`` bodies.
AITB_PROLIFIC_ID_OPTION = "question"


def _default_id_option(study: StudyCreate) -> str | None:
    # The spec requires the field on every study; an external study has no safe default
    # (its URL decides how the ID travels), so only an attached one gets it.
    return None if study.data_collection_id is None else AITB_PROLIFIC_ID_OPTION


#: A number the spec types as ``number``: whole numbers stay ``int``, fractions keep theirs.
Number = int | float


@attrs.frozen(kw_only=True)
class StudyCreate:
    """The body of ``POST /studies/``.

    For AI Task Builder, ``data_collection_id`` is the batch (READY) or collection id and
    ``data_collection_method`` says which (``AI_TASK_BUILDER_BATCH`` by default when a
    ``data_collection_id`` is given). Other studies give an ``external_study_url`` (or
    Taskflow ``access_details``) instead. ``reward`` is in cents of the workspace currency;
    times are minutes. Fields left None are not sent. ``extra`` carries fields this version of
    the SDK does not model yet; they are merged into the body (a key that is also a field here
    is refused with ``ValueError``).

    Example::

        study = await client.studies.create(pa.StudyCreate(
            name="Rate responses", description="Compare two answers to a question.",
            data_collection_id=batch.id,
            data_collection_metadata=pa.DataCollectionMetadata(annotators_per_task=1),
            reward=100, total_available_places=50, estimated_completion_time=5,
            prolific_id_option="question",
            completion_codes=[pa.CompletionCode(
                code="ABC123", code_type=pa.CompletionCodeType.COMPLETED,
                actions=[pa.CompletionAction(action=pa.CompletionActionType.MANUALLY_REVIEW)])],
            device_compatibility=["desktop"],
            submissions_config=pa.SubmissionsConfig(max_submissions_per_participant=1),
            extra={"a_field_added_last_week": True},
        ))
    """

    name: str
    description: str
    data_collection_id: str | None = None
    data_collection_method: DataCollectionMethod | None = attrs.field(
        default=attrs.Factory(_default_method, takes_self=True))
    data_collection_metadata: DataCollectionMetadata | None = None
    internal_name: str | None = None
    external_study_url: str | None = None
    access_details: list[AccessDetail] | None = None
    #: ``question``, ``url_parameters`` or ``not_required``; ``question`` by default for a
    #: study with a ``data_collection_id`` (see `AITB_PROLIFIC_ID_OPTION`).
    prolific_id_option: str | None = attrs.field(
        default=attrs.Factory(_default_id_option, takes_self=True))
    #: The legacy single code; prefer ``completion_codes``.
    completion_code: str | None = None
    completion_codes: list[CompletionCode] | None = None
    reward: Number | None = None
    total_available_places: Number | None = None
    estimated_completion_time: Number | None = None
    maximum_allowed_time: Number | None = None
    #: ``desktop``, ``tablet``, ``mobile``; empty: all.
    device_compatibility: list[str] | None = None
    #: ``audio``, ``camera``, ``download``, ``microphone``; empty: none.
    peripheral_requirements: list[str] | None = None
    filters: list[StudyFilter] | None = None
    filter_set_id: str | None = None
    filter_set_version: int | None = None
    naivety_distribution_rate: float | None = None
    is_custom_screening: bool | None = None
    study_labels: list[str] | None = None
    content_warnings: list[str] | None = None
    content_warning_details: str | None = None
    submissions_config: SubmissionsConfig | None = None
    metadata: str | None = None
    project: str | None = None
    extra: Mapping[str, Any] = extra_field()

    def __attrs_post_init__(self) -> None:
        if self.filter_set_id is not None and self.filters:
            raise ValueError("StudyCreate: filter_set_id cannot be combined with filters; "
                             "put the filters in the filter set, or leave filter_set_id out")


@attrs.frozen(kw_only=True)
class Study:
    """A study as the API returns it.

    Example::

        study = await client.studies.create(pa.StudyCreate(...))
        study = await client.studies.publish(study.id)
        study.status        # StudyStatus.ACTIVE
    """

    id: str
    name: str | None = None
    internal_name: str | None = None
    status: StudyStatus | None = None
    description: str | None = None
    data_collection_method: DataCollectionMethod | None = None
    data_collection_id: str | None = None
    data_collection_metadata: DataCollectionMetadata | None = None
    external_study_url: str | None = None
    prolific_id_option: str | None = None
    completion_codes: list[CompletionCode] | None = None
    total_available_places: Number | None = None
    places_taken: Number | None = None
    reward: Number | None = None
    estimated_completion_time: Number | None = None
    maximum_allowed_time: Number | None = None
    device_compatibility: list[str] | None = None
    peripheral_requirements: list[str] | None = None
    filters: list[StudyFilter] | None = None
    filter_set_id: str | None = None
    study_labels: list[str] | None = None
    submissions_config: SubmissionsConfig | None = None
    project: str | None = None
    date_created: datetime | None = None
    published_at: datetime | None = None


@attrs.frozen(kw_only=True)
class StudyCost:
    """What a study would cost, from Prolific's calculator: ``total_cost`` in cents of your
    account's currency, with your account's fees and VAT (``studies.cost``)."""

    total_cost: float
