"""Submissions: one participant's go at a study, reviewed (approved or rejected) by the researcher.

Participants are paid their reward when a submission is approved. Every AI Task Builder study
template completes with ``MANUALLY_REVIEW``, so submissions wait in AWAITING REVIEW until
someone decides. Amounts (``bonus_payments``) are integers in the currency's minor unit.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

import attrs

from .common import OpenEnum

__all__ = ["MIN_REJECTION_MESSAGE", "Approve", "BulkApproval", "Reject", "RejectionCategory",
           "Submission", "SubmissionStatus"]

#: Prolific refuses a rejection whose message to the participant is shorter than this.
MIN_REJECTION_MESSAGE = 100


class SubmissionStatus(OpenEnum):
    """A submission's status (every value in Prolific's spec; unknown ones are kept).

    Example::

        waiting = pa.SubmissionStatus.AWAITING_REVIEW
        async for s in client.submissions.list(study_id, status=waiting):
            ...
    """

    RESERVED = "RESERVED"
    ACTIVE = "ACTIVE"
    AWAITING_REVIEW = "AWAITING REVIEW"
    APPROVED = "APPROVED"
    PARTIALLY_APPROVED = "PARTIALLY APPROVED"
    REJECTED = "REJECTED"
    RETURNED = "RETURNED"
    #: The detail schema spells it TIMED-OUT, the list schema TIME-OUT: both are kept.
    TIMED_OUT = "TIMED-OUT"
    TIME_OUT = "TIME-OUT"
    SCREENED_OUT = "SCREENED OUT"
    #: Reported by third parties, not documented.
    PROCESSING = "PROCESSING"
    UNKNOWN = "UNKNOWN"


class RejectionCategory(OpenEnum):
    """Why a submission is rejected (``rejection_category``); only these are sent.

    Example::

        await client.submissions.reject(sid, message=why, category=pa.RejectionCategory.LOW_EFFORT)
    """

    TOO_QUICKLY = "TOO_QUICKLY"
    TOO_SLOWLY = "TOO_SLOWLY"
    FAILED_INSTRUCTIONS = "FAILED_INSTRUCTIONS"
    INCOMP_LONGITUDINAL = "INCOMP_LONGITUDINAL"
    FAILED_CHECK = "FAILED_CHECK"
    LOW_EFFORT = "LOW_EFFORT"
    MALINGERING = "MALINGERING"
    NO_CODE = "NO_CODE"
    BAD_CODE = "BAD_CODE"
    NO_DATA = "NO_DATA"
    UNSUPP_DEVICE = "UNSUPP_DEVICE"
    OTHER = "OTHER"


@attrs.frozen(kw_only=True)
class Submission:
    """A submission, from a study's list, a detail read or a transition.

    The list and the detail name two fields differently (``participant_id`` /
    ``participant``, ``study_code`` / ``entered_code``): both read into ``participant_id``
    and ``study_code``. ``bonus_payments`` (detail only, None elsewhere) lists the bonuses
    already paid on it, in minor units (``25`` is 0.25).

    Example::

        sub = await client.submissions.get(submission_id)
        sub.status, sub.participant_id, sub.bonus_payments    # AWAITING REVIEW, '60bf…', [25]
    """

    id: str
    status: SubmissionStatus
    participant_id: str | None = None
    study_id: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    study_code: str | None = None
    has_siblings: bool | None = None
    return_requested: datetime | None = None
    bonus_payments: list[int] | None = None


_NOTHING: Mapping[str, SubmissionStatus] = MappingProxyType({})


@attrs.frozen(kw_only=True)
class BulkApproval:
    """Where a bulk approval stands: what `Submissions.bulk_approve` returns.

    ``approved`` are APPROVED, ``pending`` still AWAITING REVIEW (bulk approval is applied in
    the background), ``other`` ended in another status before they could be approved (a
    participant returned), with that status. ``requests`` counts the bulk-approve requests
    sent (chunks of at most 1,000 ids).

    Example::

        result = await client.submissions.bulk_approve(study_id, ids)
        assert not result.pending and not result.other
    """

    study_id: str
    approved: tuple[str, ...] = ()
    pending: tuple[str, ...] = ()
    other: Mapping[str, SubmissionStatus] = _NOTHING
    requests: int = 0

    @property
    def done(self) -> bool:
        """Whether nothing is left pending."""
        return not self.pending


@attrs.frozen
class Approve:
    """A review decision: approve the submission (the participant is paid the reward).

    Example::

        async def review(sub: pa.Submission, responses: list[pa.TaskResponse]):
            return pa.Approve() if responses else None     # None: left for a person
    """


@attrs.frozen
class Reject:
    """A review decision: reject, telling the participant why. Checked when built: the
    message at least 100 characters, the category a `RejectionCategory`.

    Example::

        pa.Reject("Thank you for taking part. The answers were all left empty, so we cannot "
                  "use this submission; please write to us if something went wrong.",
                  pa.RejectionCategory.NO_DATA)
    """

    message: str
    category: RejectionCategory = attrs.field(converter=RejectionCategory)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.message, str) or \
                len(self.message.strip()) < MIN_REJECTION_MESSAGE:
            raise ValueError(f"Reject.message must be at least {MIN_REJECTION_MESSAGE} "
                             "characters (Prolific's rule; the participant reads it)")
        if not self.category.known:
            known = ", ".join(c.value for c in RejectionCategory)
            raise ValueError(f"Reject.category must be one of {known}, got "
                             f"{self.category.value!r}")
