"""``client.bonuses``: set up bonus payments and pay them, never twice.

Paying is documented as **not idempotent**: a second ``pay`` of the same set-up pays again.
So ``pay`` is sent once (a 429 is the only answer after which it is sent again: the server
refused it without acting), and a pay whose answer was lost (or a 5xx, after which the
server may have acted) is settled by reading the submissions' paid bonuses; when that cannot
settle it, `OutcomeUnknownError` names the set-up and what to check. The SDK never pays it
again by itself. A set-up (``create``) whose answer was lost may leave an unpaid set-up
behind: it costs nothing and is never paid unless someone pays its id.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import anyio
import attrs

from .._config import PollPolicy
from .._context import Context
from .._converter import converter
from .._errors import InternalServerError, OutcomeUnknownError, ProlificError
from .._jobs import JobKind
from .._models.bonuses import (
    DEFAULT_MAX_BONUS,
    BonusPayment,
    check_amounts,
    csv_bonuses,
    format_minor,
)
from .._watch import WatchSpec
from ._base import Resource, segment
from .submissions import Submissions

__all__ = ["BONUS_PAY", "Bonuses"]

#: Reading the submissions of a lost pay: at most this many detail reads at once.
_READ_CONCURRENCY = 8

# Not resumable on purpose (no `watches` mark): it only ever runs inside `pay`.
BONUS_PAY = JobKind("bonus_pay", pending={"UNSEEN", "PARTLY SEEN"}, done={"PAID"}, failed=())

converter.register_unstructure_hook(
    Decimal, lambda value: int(value) if value == value.to_integral_value() else float(value))


class Bonuses(Resource):
    """Bonus payments: ``create`` a set-up (costs nothing), then ``pay`` it (once).

    Amounts are integers in the currency's minor unit (``25`` is 0.25); a float or a string
    is refused, and so is any single amount above ``max_amount`` (1,000 by default).

    Example::

        bonus = await client.bonuses.create(study_id, {submission_id: 25, other_id: 50})
        print(bonus.total_amount)          # what will leave the wallet, fees and VAT included
        await client.bonuses.pay(bonus)
    """

    def __init__(self, context: Context, submissions: Submissions) -> None:
        super().__init__(context)
        self._submissions = submissions
        #: Set-ups this client has sent ``pay`` for: it never sends a second.
        self._paid: set[str] = set()

    async def create(
        self, study_id: str, amounts: Mapping[str, int], *, max_amount: int = DEFAULT_MAX_BONUS,
    ) -> BonusPayment:
        """Set up bonuses for participants (or submissions) of a study; nothing is paid yet.

        ``amounts`` maps participant or submission ids to integer amounts in minor units.
        Everything is checked before sending. The ids must have taken part in the study
        (the API answers 400 naming the others). Not repeated after a lost answer
        (`OutcomeUnknownError`): a set-up may have been made, unpaid; making another and
        paying only that one is safe.

        Example::

            bonus = await client.bonuses.create(study_id, {"60ffe5c8371090c7041d43f8": 425})
        """
        segment("study_id", study_id)
        checked = check_amounts(amounts, max_amount=max_amount)
        body = {"study_id": study_id, "csv_bonuses": csv_bonuses(checked)}
        try:
            async with self._submissions.money_gate:
                made: BonusPayment = await self._call(
                    "POST", "/api/v1/submissions/bonus-payments/", BonusPayment,
                    json_body=body, idempotent=False)
        except OutcomeUnknownError as exc:
            raise OutcomeUnknownError(
                f"the answer to setting up {len(checked)} bonuses for study {study_id} was "
                f"lost: an unpaid set-up may exist on the server (it costs nothing and is "
                f"never paid unless its id is paid); set up again and pay only the new one",
                request=exc.request, body_summary=exc.body_summary) from exc
        return attrs.evolve(made, amounts=checked, study=made.study or study_id)

    async def pay(
        self, bonus: BonusPayment | str, *, settle_within: float = 60.0,
        paid_before: Mapping[str, Sequence[int]] | None = None,
    ) -> None:
        """Pay a set-up: the bonuses are paid asynchronously, within minutes.

        Sent at most once per set-up by this client. Given the `BonusPayment` from
        ``create``, the submissions' paid bonuses are read first, so that a pay whose answer
        is lost can be settled by reading them again for up to ``settle_within`` seconds:
        seen paid, it returns; not seen, `OutcomeUnknownError` names the set-up and what to
        check. Given only an id (or ``settle_within=0``), nothing is read and a lost answer
        is `OutcomeUnknownError` at once. A caller that knows the bonuses already paid on the
        set-up's submissions (its keys then submission ids) passes them as ``paid_before``
        (submission id -> amounts; a missing id: none) and saves those reads.

        Example::

            try:
                await client.bonuses.pay(bonus)
            except pa.OutcomeUnknownError as exc:
                print(exc)      # names the set-up; check before paying it again
        """
        bonus_id = bonus.id if isinstance(bonus, BonusPayment) else bonus
        path = f"/api/v1/bulk-bonus-payments/{segment('bonus_id', bonus_id)}/pay/"
        if settle_within < 0:
            raise ValueError(f"settle_within must be >= 0, got {settle_within!r}")
        if bonus_id in self._paid:
            raise ValueError(f"bonus payment {bonus_id} was already paid by this client: paying "
                             "is not idempotent, so it is never sent twice")
        amounts = bonus.amounts if isinstance(bonus, BonusPayment) else {}
        study_id = bonus.study if isinstance(bonus, BonusPayment) else None
        checking = bool(amounts) and study_id is not None and settle_within > 0
        before: dict[str, Counter[int]] = {}
        if not checking or study_id is None:
            targets: dict[str, list[str]] = {}
        elif paid_before is not None:
            targets = {key: [key] for key in amounts}
            before = {key: Counter(paid_before.get(key, ())) for key in amounts}
        else:
            targets = await self._targets(study_id, amounts)
            before = await self._paid_now(targets)
        self._paid.add(bonus_id)
        try:
            async with self._submissions.money_gate:
                await self._request("POST", path, idempotent=False)
        except (OutcomeUnknownError, InternalServerError) as exc:
            what = _describe(bonus, exc)
            if not targets:
                raise _unknown(exc, f"{what}: it may have been paid. Check the submissions' "
                               "bonus payments (client.submissions.get(id).bonus_payments) "
                               "before paying it again; the SDK will not") from exc
            await self._settle(exc, bonus_id, what, targets, before, amounts, settle_within)

    async def _targets(self, study_id: str, amounts: Mapping[str, int]) -> dict[str, list[str]]:
        """The submissions each id of a set-up pays into: itself, or the participant's."""
        by_participant: dict[str, list[str]] = {}
        ids: set[str] = set()
        async for submission in self._submissions.list(study_id):
            ids.add(submission.id)
            if submission.participant_id:
                by_participant.setdefault(submission.participant_id, []).append(submission.id)
        return {key: [key] if key in ids else by_participant.get(key, []) for key in amounts}

    async def _paid_now(self, targets: dict[str, list[str]]) -> dict[str, Counter[int]]:
        """The bonuses already paid on each target submission, read a few at a time."""
        found: dict[str, Counter[int]] = {}
        limiter = anyio.CapacityLimiter(_READ_CONCURRENCY)

        async def read(submission_id: str) -> None:
            async with limiter:
                detail = await self._submissions.get(submission_id)
            found[submission_id] = Counter(detail.bonus_payments or [])

        async with anyio.create_task_group() as group:
            for submission_id in {s for subs in targets.values() for s in subs}:
                group.start_soon(read, submission_id)
        return found

    async def _settle(self, exc: Exception, bonus_id: str, what: str,
                      targets: dict[str, list[str]],
                      before: dict[str, Counter[int]], amounts: Mapping[str, int],
                      settle_within: float) -> None:
        """Read until every bonus of the set-up shows as paid, or raise what to check."""

        async def fetch() -> int:
            now = await self._paid_now(targets)
            return sum(_shows(amounts[key], subs, before, now) for key, subs in targets.items())

        def status_of(seen: int) -> str:
            return "PAID" if seen == len(targets) else "PARTLY SEEN" if seen else "UNSEEN"

        spec: WatchSpec[int] = WatchSpec(job=BONUS_PAY, ids=(bonus_id,), fetch=fetch,
                                         status_of=status_of)
        step = max(settle_within / 8, 0.01)
        policy = PollPolicy(initial=step, multiplier=1.5, ceiling=max(step, settle_within / 3),
                            deadline=settle_within)
        try:
            await self._watch(spec, policy).wait()
        except ProlificError as failed:
            # A timeout says what was seen last; reads that failed saw nothing for sure.
            seen = "some" if getattr(failed, "last_status", None) == "PARTLY SEEN" else "none"
            raise _unknown(exc, (
                f"{what}: after reading for up to {settle_within:g} s the submissions show "
                f"{seen} of its "
                f"{len(targets)} bonuses paid: it may still be paid within minutes, or never "
                f"have reached Prolific. Check the bonus payments of "
                f"{_sample(targets)} (client.submissions.get(id).bonus_payments) before paying "
                "it again; the SDK will not")) from exc


def _shows(amount: int, submissions: list[str], before: dict[str, Counter[int]],
           now: dict[str, Counter[int]]) -> bool:
    """Whether a bonus of ``amount`` appeared on one of these submissions since ``before``."""
    return any((now[s] - before[s])[amount] > 0 for s in submissions)


def _describe(bonus: BonusPayment | str, exc: Exception) -> str:
    """Which set-up, and why its outcome is unknown."""
    why = ("its answer was lost" if isinstance(exc, OutcomeUnknownError)
           else f"the server failed after it may have acted ({exc})")
    if isinstance(bonus, BonusPayment) and bonus.amounts:
        return (f"paying bonus payment {bonus.id} (study {bonus.study}, {len(bonus.amounts)} "
                f"bonuses, {format_minor(sum(bonus.amounts.values()))} before fees): {why}")
    bonus_id = bonus.id if isinstance(bonus, BonusPayment) else bonus
    return f"paying bonus payment {bonus_id}: {why}"


def _sample(targets: dict[str, list[str]]) -> str:
    subs = [s for found in targets.values() for s in found]
    shown = ", ".join(subs[:3])
    return f"submissions {shown}" + (f" and {len(subs) - 3} more" if len(subs) > 3 else "")


def _unknown(exc: Exception, message: str) -> OutcomeUnknownError:
    request: Any = getattr(exc, "request", None)
    return OutcomeUnknownError(message, request=request)
