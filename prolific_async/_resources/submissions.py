"""``client.submissions``: list, count, read, approve and reject submissions.

Approving pays the participant their reward. Prolific documents the transition endpoint as
idempotent (a repeated request is ignored) and deduplicates identical bulk approvals, so both
are retried like reads: approving can never pay twice. Bulk approval is applied in the
background: `Submissions.bulk_approve` follows the submissions until they are APPROVED.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

import anyio
from cattrs.gen import make_dict_structure_fn

from .._config import PollPolicy
from .._context import Context
from .._converter import converter
from .._errors import UnexpectedResponseError
from .._jobs import JobKind
from .._models.submissions import (
    MIN_REJECTION_MESSAGE,
    BulkApproval,
    RejectionCategory,
    Submission,
    SubmissionStatus,
)
from .._watch import WatchSpec
from ._base import Resource, segment, structure, watches

__all__ = ["BULK_APPROVAL", "MAX_BULK_APPROVE", "MONEY_CONCURRENCY", "PAGE_SIZE", "Submissions"]

_STUDIES = "/api/v1/studies"
_SUBMISSIONS = "/api/v1/submissions"

#: Prolific advises at most 1,000 ids per bulk approval.
MAX_BULK_APPROVE = 1_000
#: Money writes (approvals, rejections, bonus set-ups and pays) one client sends at once:
#: Prolific's 429s come from contention on the workspace wallet, and it advises sending
#: money operations one after another; a few at a time keeps single approvals moving.
MONEY_CONCURRENCY = 4
#: The largest page the list endpoint serves (Prolific's MCP server pages with 1-500).
PAGE_SIZE = 500

BULK_APPROVAL = JobKind(
    "bulk_approval", pending={"APPROVING"}, done={"APPROVED", "PARTLY APPROVED"}, failed=(),
    remedy="")

_structure_plain = make_dict_structure_fn(Submission, converter)


def _structure_submission(data: Any, _: Any = None) -> Submission:
    # The detail and transition answers say `participant` and `entered_code`, the list
    # answer `participant_id` and `study_code`: one model reads both.
    if "participant" in data or "entered_code" in data:
        data = dict(data)
        data.setdefault("participant_id", data.pop("participant", None))
        data.setdefault("study_code", data.pop("entered_code", None))
    paid = data.get("bonus_payments")
    if paid is not None:
        if not isinstance(paid, list) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and v == int(v)
                for v in paid):
            raise ValueError(f"bonus_payments must be whole minor units, got {paid!r}")
        data = {**data, "bonus_payments": [int(v) for v in paid]}
    submission: Submission = _structure_plain(data, Submission)
    return submission


converter.register_structure_hook(Submission, _structure_submission)


class Submissions(Resource):
    """Review a study's submissions: approving pays the participant's reward.

    Example::

        async for sub in client.submissions.list(study.id, status="AWAITING REVIEW"):
            await client.submissions.approve(sub.id)
        result = await client.submissions.bulk_approve(study.id, ids)   # many at once
    """

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        #: Shared with ``client.bonuses``: every money write of the client passes it.
        self.money_gate: anyio.CapacityLimiter = anyio.CapacityLimiter(MONEY_CONCURRENCY)

    async def list(
        self, study_id: str, *, status: SubmissionStatus | str | None = None,
        page_size: int = PAGE_SIZE,
    ) -> AsyncIterator[Submission]:
        """Every submission of a study, page after page (``limit``/``offset``), oldest
        first; ``status`` keeps those with that status (filtered here: the API documents
        no such parameter).

        Example::

            waiting = [s async for s in client.submissions.list(study_id,
                                                                 status="AWAITING REVIEW")]
        """
        path = f"{_STUDIES}/{segment('study_id', study_id)}/submissions/"
        if not isinstance(page_size, int) or not 1 <= page_size <= PAGE_SIZE:
            raise ValueError(f"page_size must be an int from 1 to {PAGE_SIZE}, got {page_size!r}")
        wanted = None if status is None else SubmissionStatus(status)
        async for submission in self._offset_pages(path, page_size):
            if wanted is None or submission.status == wanted:
                yield submission

    async def _offset_pages(self, path: str, page_size: int) -> AsyncIterator[Submission]:
        offset = 0
        first_ids: set[str] = set()
        while True:
            response = await self._request("GET", path,
                                           params={"limit": page_size, "offset": offset})
            page: list[Submission] = self._parse(response, Submission, rows=True)
            if not page:
                return
            # A server that ignores `offset` would serve the first page forever.
            if page[0].id in first_ids:
                raise UnexpectedResponseError(
                    f"{response.request} served a page already read (offset {offset} ignored?)",
                    body=response.data, request=response.request)
            first_ids.add(page[0].id)
            for submission in page:
                yield submission
            offset += len(page)
            count = _meta_count(response.data)
            if len(page) < page_size or (count is not None and offset >= count):
                return

    async def counts(self, study_id: str) -> dict[str, int]:
        """How many submissions a study has in each status: ``{"APPROVED": 10, ...}``
        (the API's ``TOTAL`` left out: it is the sum).

        Example::

            counts = await client.submissions.counts(study_id)
            counts.get("AWAITING REVIEW", 0)
        """
        path = f"{_STUDIES}/{segment('study_id', study_id)}/submissions/counts/"
        response = await self._request("GET", path)
        data: dict[str, int] = structure(response, response.data, dict[str, int])
        return {status: count for status, count in data.items() if status != "TOTAL"}

    async def get(self, submission_id: str) -> Submission:
        """A submission in detail, with the bonuses already paid on it (``bonus_payments``).

        Example::

            paid = (await client.submissions.get(sid)).bonus_payments    # [25, 100]
        """
        found: Submission = await self._call(
            "GET", f"{_SUBMISSIONS}/{segment('submission_id', submission_id)}/", Submission)
        return found

    async def approve(self, submission_id: str) -> Submission:
        """Approve a submission: the participant is paid their reward. Safe to repeat
        (Prolific ignores a second approval), so it is retried like a read.

        Example::

            sub = await client.submissions.approve(submission_id)
        """
        return await self._transition(submission_id, {"action": "APPROVE"})

    async def reject(
        self, submission_id: str, *, message: str, category: RejectionCategory | str,
    ) -> Submission:
        """Reject a submission, telling the participant why. Checked before sending:
        ``message`` must be at least 100 characters, ``category`` a `RejectionCategory`.

        Example::

            await client.submissions.reject(sid, category="LOW_EFFORT", message=(
                "Thank you for taking part. Most answers were left empty or repeated the "
                "question, so we cannot use this submission."))
        """
        segment("submission_id", submission_id)
        if not isinstance(message, str) or len(message.strip()) < MIN_REJECTION_MESSAGE:
            got = len(message.strip()) if isinstance(message, str) else type(message).__name__
            raise ValueError(f"message must be at least {MIN_REJECTION_MESSAGE} characters "
                             f"(Prolific's rule; it is sent to the participant), got {got}")
        value = RejectionCategory(category) if isinstance(category, str) else None
        if value is None or not value.known:
            known = ", ".join(c.value for c in RejectionCategory)
            raise ValueError(f"category must be one of {known}, got {category!r}")
        return await self._transition(submission_id, {
            "action": "REJECT", "message": message, "rejection_category": value.value})

    async def _transition(self, submission_id: str, body: dict[str, str]) -> Submission:
        path = f"{_SUBMISSIONS}/{segment('submission_id', submission_id)}/transition/"
        async with self.money_gate:
            changed: Submission = await self._call("POST", path, Submission, json_body=body)
        return changed

    async def bulk_approve(
        self, study_id: str, submission_ids: Iterable[str], *, wait: bool = True,
        poll: PollPolicy | None = None,
    ) -> BulkApproval:
        """Approve many submissions of a study: chunks of at most 1,000 ids, sent one after
        another (as Prolific advises for money operations), then, with ``wait``, follow the
        submissions until none is left AWAITING REVIEW (bulk approval is applied in the
        background; ``poll`` bounds how long, `PollTimeout` past it, whose resume token
        carries the study and the ids).

        Before anything is sent the study's submissions are read: an id not in the study, or
        one that cannot be approved (ACTIVE, RETURNED, REJECTED ...), is a ``ValueError``
        naming it; ids already APPROVED are not sent again.

        Example::

            result = await client.submissions.bulk_approve(study_id, ids)
            result.approved, result.other        # every id, and those that ended otherwise
        """
        segment("study_id", study_id)
        if isinstance(submission_ids, str):
            raise TypeError("submission_ids must be a list of ids, not one string")
        ids = list(dict.fromkeys(submission_ids))  # once each, in the order given
        for submission_id in ids:
            segment("submission_ids", submission_id)
        if not ids:
            raise ValueError("submission_ids is empty: give at least one submission id")
        before = await self._progress(study_id, ids)
        blocked = dict(before.other)
        if blocked:
            shown = ", ".join(f"{i} ({s})" for i, s in list(blocked.items())[:5])
            more = f" and {len(blocked) - 5} more" if len(blocked) > 5 else ""
            raise ValueError(f"{len(blocked)} of the submissions cannot be approved (not in "
                             f"study {study_id}, or not AWAITING REVIEW): {shown}{more}")
        to_send = list(before.pending)
        requests = 0
        for start in range(0, len(to_send), MAX_BULK_APPROVE):
            chunk = to_send[start:start + MAX_BULK_APPROVE]
            async with self.money_gate:
                await self._request("POST", f"{_SUBMISSIONS}/bulk-approve/",
                                    json_body={"submission_ids": chunk})
            requests += 1
        if not wait or not to_send:
            return BulkApproval(study_id=study_id, approved=before.approved,
                                pending=before.pending, requests=requests)
        done: BulkApproval = await self._watch(self._bulk_spec(study_id, *ids), poll).wait()
        return BulkApproval(study_id=study_id, approved=done.approved, pending=done.pending,
                            other=done.other, requests=requests)

    async def _progress(self, study_id: str, ids: Sequence[str]) -> BulkApproval:
        """Where ``ids`` stand, from one read of the study's submissions."""
        statuses: dict[str, SubmissionStatus] = {}
        wanted: set[str] = set(ids)
        async for submission in self.list(study_id):
            if submission.id in wanted:
                statuses[submission.id] = submission.status
        missing = SubmissionStatus("NOT IN STUDY")
        approved: list[str] = []
        pending: list[str] = []
        other: dict[str, SubmissionStatus] = {}
        for submission_id in ids:
            status = statuses.get(submission_id, missing)
            if status == SubmissionStatus.APPROVED:
                approved.append(submission_id)
            elif status == SubmissionStatus.AWAITING_REVIEW:
                pending.append(submission_id)
            else:
                other[submission_id] = status
        return BulkApproval(study_id=study_id, approved=tuple(approved), pending=tuple(pending),
                            other=other)

    @watches(BULK_APPROVAL)
    def _bulk_spec(self, study_id: str, *submission_ids: str) -> WatchSpec[BulkApproval]:
        ids = submission_ids

        async def fetch() -> BulkApproval:
            return await self._progress(study_id, ids)

        def status_of(progress: BulkApproval) -> str:
            if progress.pending:
                return "APPROVING"
            return "PARTLY APPROVED" if progress.other else "APPROVED"

        return WatchSpec(job=BULK_APPROVAL, ids=(study_id, *ids), fetch=fetch,
                         status_of=status_of)


def _meta_count(data: Any) -> int | None:
    """``meta.count`` of a list answer, when it gives one."""
    meta = data.get("meta") if isinstance(data, dict) else None
    count = meta.get("count") if isinstance(meta, dict) else None
    return count if isinstance(count, int) and not isinstance(count, bool) else None

