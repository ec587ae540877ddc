"""The money stages of a plan: review, approve and reject, bonus set-up, bonus pay.

Each is reconciled from the server, never from the journal alone:

- **review** decides each submission AWAITING REVIEW, once: ``approve="all"`` approves every
  one; a callable is asked per submission with its task responses, and its decision is
  journaled at once (``review/<submission id>``), so a rerun never asks it again for a
  submission it decided.
- **approve** acts only on submissions the server still shows AWAITING REVIEW: approvals in
  bulk (idempotent on Prolific's side), rejections one by one. A rerun sends nothing twice.
- **bonus set-up** asks ``bonus`` per approved submission, journals the amounts, and sets them
  up (free). Set-ups cannot be listed: one whose answer was lost (or made just before a
  kill) is left unpaid, and the journaled one is the only one ever paid.
- **bonus pay** first reads the set-up's submissions: a bonus showing on every one means it
  was paid (the plan's study gets bonuses from the plan alone, so this holds even after the
  journal was lost). Otherwise it records that it is paying and pays once; an unsure
  answer, a pay recorded by an earlier run and not seen, or bonuses on only some of the
  submissions stop the plan with `OutcomeUnknownError` naming what to check. Never twice.
"""

from __future__ import annotations

import json
from typing import Protocol

from . import _sdk as pa
from ._pacing import Pacer
from ._plan import BatchPlan

__all__ = ["approve", "bonus_pay", "bonus_setup", "find_bonus_paid", "find_bonus_setup",
           "no_bonus", "no_review", "review"]

_DECISION = "review/"

#: What a review callable returns: None leaves the submission for a person.
Decision = pa.Approve | pa.Reject | None


class Pipeline(Protocol):
    """What the money stages use of the runner (`_stages.Runner` has it all)."""

    client: pa.Prolific
    plan: BatchPlan
    ids: dict[str, str]
    #: Everything the journal holds for the plan, kept up to date by ``set``.
    journaled: dict[str, str]
    notes: dict[str, str]
    pacer: Pacer

    async def set(self, key: str, value: str, *, created: bool = False) -> None: ...


def _encode(decision: Decision) -> str:
    if isinstance(decision, pa.Reject):
        return json.dumps({"do": "reject", "message": decision.message,
                           "category": decision.category.value})
    return json.dumps({"do": "approve" if isinstance(decision, pa.Approve) else "person"})


def _decode(text: str) -> Decision:
    data = json.loads(text)
    if data["do"] == "reject":
        return pa.Reject(data["message"], data["category"])
    return pa.Approve() if data["do"] == "approve" else None


# -- skips ------------------------------------------------------------------------------------

def no_review(plan: BatchPlan) -> str | None:
    study = plan.study
    return None if study and study.approve is not None else "approve=None: left for a person"


def no_bonus(plan: BatchPlan) -> str | None:
    study = plan.study
    return None if study and study.bonus is not None else "no bonus in the plan"


# -- review -----------------------------------------------------------------------------------

async def _awaiting(p: Pipeline) -> list[pa.Submission]:
    waiting = pa.SubmissionStatus.AWAITING_REVIEW
    return [s async for s in p.client.submissions.list(p.ids["study_id"], status=waiting)]


async def _responses_by_submission(p: Pipeline) -> dict[str, list[pa.TaskResponse]]:
    found: dict[str, list[pa.TaskResponse]] = {}
    async for response in p.client.batches.responses(p.ids["batch_id"]):
        if response.submission_id:
            found.setdefault(response.submission_id, []).append(response)
    return found


def decisions(p: Pipeline) -> dict[str, Decision]:
    """The review decisions journaled so far, by submission id."""
    return {key[len(_DECISION):]: _decode(value) for key, value in p.journaled.items()
            if key.startswith(_DECISION)}


async def review(p: Pipeline) -> str | None:
    study = p.plan.study
    assert study is not None
    decide = study.approve
    if decide == "all":
        return "every submission awaiting review will be approved"
    assert callable(decide)
    known = decisions(p)
    todo = [s for s in await _awaiting(p) if s.id not in known]
    answers = await _responses_by_submission(p) if todo else {}
    for submission in todo:
        decision = await decide(submission, answers.get(submission.id, []))
        if decision is not None and not isinstance(decision, (pa.Approve, pa.Reject)):
            raise TypeError(f"plan {p.plan.name!r}: approve must return pa.Approve(), "
                            f"pa.Reject(...) or None, got {type(decision).__name__}")
        await p.set(_DECISION + submission.id, _encode(decision))
    return f"{len(todo)} decided, {len(known)} decided earlier"


# -- approve and reject -----------------------------------------------------------------------

async def approve(p: Pipeline) -> str | None:
    study = p.plan.study
    assert study is not None
    waiting = await _awaiting(p)  # only these can still be acted on: nothing twice
    if study.approve == "all":
        approving, rejecting = [s.id for s in waiting], {}
    else:
        known = decisions(p)
        approving = [s.id for s in waiting if isinstance(known.get(s.id), pa.Approve)]
        rejecting = {s.id: d for s in waiting if isinstance(d := known.get(s.id), pa.Reject)}
    if approving:
        await p.client.submissions.bulk_approve(p.ids["study_id"], approving,
                                                poll=p.pacer.policy())
    for submission_id, decision in rejecting.items():
        await p.client.submissions.reject(submission_id, message=decision.message,
                                          category=decision.category)
    return f"{len(approving)} approved, {len(rejecting)} rejected"


# -- bonuses ----------------------------------------------------------------------------------

def _amounts(p: Pipeline) -> dict[str, int]:
    return _parse(p.journaled.get("bonus_amounts", "{}"))


async def find_bonus_setup(p: Pipeline, recheck: bool) -> str | None:
    bonus_id = p.ids.get("bonus_id")
    if bonus_id is None:
        return None  # set-ups cannot be listed: a lost one is left, unpaid
    return f"set-up {bonus_id} made earlier" if bonus_id else "no bonuses to set up"


async def bonus_setup(p: Pipeline) -> str | None:
    study = p.plan.study
    assert study is not None and study.bonus is not None
    amounts = await _ask_bonuses(p)
    if not amounts:
        await p.set("bonus_id", "")
        return "no bonuses"
    made = await p.client.bonuses.create(p.ids["study_id"], amounts, max_amount=study.max_bonus)
    # Journaled with its set-up: a set-up made but not recorded (a kill) is never paid.
    await p.set("bonus_amounts", json.dumps(amounts, sort_keys=True))
    await p.set("bonus_id", made.id, created=True)
    return f"set-up {made.id}: {len(amounts)} bonuses, total {made.total_amount}"


async def _ask_bonuses(p: Pipeline) -> dict[str, int]:
    """``bonus`` asked once per approved submission (kept for a create tried again)."""
    if "bonus_amounts" in p.notes:
        return _parse(p.notes["bonus_amounts"])
    study = p.plan.study
    assert study is not None and study.bonus is not None
    approved = [s async for s in p.client.submissions.list(
        p.ids["study_id"], status=pa.SubmissionStatus.APPROVED)]
    amounts: dict[str, int] = {}
    if isinstance(study.bonus, int):
        amounts = dict.fromkeys((s.id for s in approved), study.bonus)
    else:
        answers = await _responses_by_submission(p) if approved else {}
        for submission in approved:
            amount = await study.bonus(submission, answers.get(submission.id, []))
            if amount is not None:
                amounts[submission.id] = amount
    p.notes["bonus_amounts"] = json.dumps(amounts)
    return amounts


def _parse(text: str) -> dict[str, int]:
    return {key: int(value) for key, value in json.loads(text).items()}


async def _bonused(p: Pipeline, submission_ids: list[str]) -> int:
    """How many of these submissions show a bonus paid. The plan's study is its own: any
    bonus on it comes from the plan (even from a run whose journal was lost since)."""
    seen = 0
    for submission_id in submission_ids:
        detail = await p.client.submissions.get(submission_id)
        seen += bool(detail.bonus_payments)
    return seen


async def find_bonus_paid(p: Pipeline, recheck: bool) -> str | None:
    bonus_id = p.ids["bonus_id"]
    if not bonus_id:
        return "no bonuses to pay"
    targets = list(_amounts(p))
    seen = await _bonused(p, targets)
    if seen == len(targets):
        return f"set-up {bonus_id} paid (its bonuses show on the submissions)"
    # A pay sent (or maybe sent), or bonuses already on some of the submissions: paying
    # now could pay twice, so the run stops and says what to check.
    if seen or recheck or p.journaled.get("bonus_pay_sent") == bonus_id:
        raise pa.OutcomeUnknownError(
            f"plan {p.plan.name!r}: bonus payment {bonus_id} (study {p.ids['study_id']}) may "
            f"have been paid: {seen} of its {len(targets)} submissions show a bonus. Check "
            "their bonus payments (client.submissions.get(id).bonus_payments) before paying "
            "it; the run will not",
            request=pa.RequestInfo("POST", f"/api/v1/bulk-bonus-payments/{bonus_id}/pay/"))
    return None


async def bonus_pay(p: Pipeline) -> str | None:
    bonus_id = p.ids["bonus_id"]
    # Marked first: a pay that may have been sent is never sent again by a rerun. The
    # plan's own study holds no bonuses but this set-up's, so nothing is read before paying
    # (which keeps the marked-but-unsent gap to the request itself).
    await p.set("bonus_pay_sent", bonus_id)
    await p.client.bonuses.pay(
        pa.BonusPayment(id=bonus_id, study=p.ids["study_id"], amounts=_amounts(p)),
        paid_before={})
    return f"paid set-up {bonus_id}"
