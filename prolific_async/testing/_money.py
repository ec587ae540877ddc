"""The fake's money: submissions under review, approvals, bonuses and the workspace wallet.

Simulated participants make the submissions (`World.participant`); this module keeps what
the researcher decided about them and what was paid. Like the rest of the fake, a status is
computed when it is read, from the fake clock: a bulk approval is applied
``bulk_approve_delay`` fake seconds after it was asked, a paid bonus shows on its submission
``bonus_delay`` fake seconds after the pay. Paying a set-up twice pays it twice, as on the
real API (which documents pay as not idempotent), and the `Wallet` records every debit so a
test can see it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import ROUND_UP, Decimal
from typing import Any

import attrs
from aiohttp import web

from ._api import Api, _bad_request, _not_found, _simple
from ._clock import FakeClock, iso
from ._server import Handler, Reject
from ._state import StudyRec, World

__all__ = ["Approval", "BonusRec", "Money", "Payment"]

#: Prolific's documented rejection categories.
REJECTION_CATEGORIES = frozenset({
    "TOO_QUICKLY", "TOO_SLOWLY", "FAILED_INSTRUCTIONS", "INCOMP_LONGITUDINAL", "FAILED_CHECK",
    "LOW_EFFORT", "MALINGERING", "NO_CODE", "BAD_CODE", "NO_DATA", "UNSUPP_DEVICE", "OTHER"})
_SUBMISSION_ID = re.compile(r"sub-([0-9a-f]{8})-(\d{4,})")
_AMOUNT = re.compile(r"\d+(\.\d{1,2})?")


@attrs.frozen
class Approval:
    """A submission approved: its participant's reward left the wallet at ``at``."""

    submission_id: str
    study_id: str
    reward: int
    at: float


@attrs.frozen
class Payment:
    """One bonus paid into one submission by one ``pay`` of set-up ``bonus_id``."""

    bonus_id: str
    submission_id: str
    amount: int
    at: float


@attrs.define
class BonusRec:
    """A bonus set-up: ``entries`` are (submission id, amount in minor units); ``pays``
    holds the fake-clock time of every accepted pay (more than one is a double payment)."""

    id: str
    study_id: str
    entries: list[tuple[str, int]]
    created_at: float
    pays: list[float] = attrs.Factory(list)

    @property
    def amount(self) -> int:
        return sum(amount for _, amount in self.entries)

    @property
    def fees(self) -> Decimal:
        # Prolific's spec example: 850 of bonus, 283.34 of fees (a third, rounded up), no VAT.
        return (Decimal(self.amount) / 3).quantize(Decimal("0.01"), ROUND_UP)

    @property
    def total(self) -> Decimal:
        return self.amount + self.fees


@attrs.define
class Money:
    """Review decisions, bonus set-ups and the wallet of one fake.

    What a test reads: `approvals` (one per submission that was approved: a second would be
    a double reward), `payments` (every bonus paid, with the set-up that paid it), `bonuses`
    by id (``BonusRec.pays``), `paid_to`, `spent`. What it may set: ``bulk_approve_delay``,
    ``bonus_delay``, and wallet contention: with ``wallet_slots`` set, a money request that
    arrives while that many are being handled (each held ``wallet_hold`` real seconds) is
    answered 429 with ``Retry-After: wallet_retry_after``, counted in ``contention``.

    Example::

        fake.money.wallet_slots, fake.money.wallet_hold = 1, 0.01
        ...
        assert all(len(b.pays) <= 1 for b in fake.money.bonuses.values())
    """

    world: World
    clock: FakeClock
    bulk_approve_delay: float = 2.0
    bonus_delay: float = 0.0
    wallet_slots: int | None = None
    wallet_hold: float = 0.0
    wallet_retry_after: str = "0.05"
    approvals: list[Approval] = attrs.Factory(list)
    payments: list[Payment] = attrs.Factory(list)
    bonuses: dict[str, BonusRec] = attrs.Factory(dict)
    contention: int = 0
    max_in_flight: int = 0
    _decided: dict[str, str] = attrs.Factory(dict)
    _bulk: list[tuple[float, list[str]]] = attrs.Factory(list)
    _in_flight: int = 0

    # -- what tests read ------------------------------------------------------------------

    def paid_to(self, submission_id: str) -> list[int]:
        """Every bonus amount paid into a submission (shown or not yet), oldest first."""
        return [p.amount for p in self.payments if p.submission_id == submission_id]

    @property
    def spent(self) -> Decimal:
        """What left the wallet: rewards of approved submissions and paid bonus totals."""
        rewards = sum(a.reward for a in self.approvals)
        bonuses = sum((b.total * len(b.pays) for b in self.bonuses.values()), Decimal(0))
        return rewards + bonuses

    # -- submissions ----------------------------------------------------------------------

    def _settle(self) -> None:
        """Apply the bulk approvals whose delay has passed."""
        now = self.clock.now()
        due = [entry for entry in self._bulk if entry[0] <= now]
        self._bulk = [entry for entry in self._bulk if entry[0] > now]
        for at, ids in due:
            for submission_id in ids:
                found = self._find(submission_id)
                if found is not None and self._status(*found) == "AWAITING REVIEW":
                    self._decide(found[0], submission_id, "APPROVED", at)

    def _decide(self, study: StudyRec, submission_id: str, status: str, at: float) -> None:
        self._decided[submission_id] = status
        if status == "APPROVED":
            self.approvals.append(Approval(submission_id, study.id,
                                           int(study.body.get("reward") or 0), at))

    def _count(self, study: StudyRec) -> int:
        """Submissions made so far, the one in progress included (ACTIVE)."""
        places = int(study.body.get("total_available_places") or 0)
        return min(places, self.world.submission_count(study) + 1) if study.published_at \
            is not None else 0

    def _find(self, submission_id: str) -> tuple[StudyRec, int] | None:
        match = _SUBMISSION_ID.fullmatch(submission_id)
        if match is None:
            return None
        k = int(match.group(2))
        for study in self.world.studies.values():
            if study.id.startswith(match.group(1)) and k < self._count(study):
                return study, k
        return None

    def _status(self, study: StudyRec, k: int) -> str:
        _, submission_id, _ = self.world.participant(study, k)
        decided = self._decided.get(submission_id)
        if decided is not None:
            return decided
        return "AWAITING REVIEW" if k < self.world.submission_count(study) else "ACTIVE"

    def _submission(self, study: StudyRec, k: int, *, detail: bool = False) -> dict[str, Any]:
        _, submission_id, participant_id = self.world.participant(study, k)
        assert study.published_at is not None
        interval = self.world.submission_interval
        status = self._status(study, k)
        done = status != "ACTIVE"
        completed = iso(self.clock.datetime(study.published_at + (k + 1) * interval)) \
            if done else None
        body: dict[str, Any] = {
            "id": submission_id, "status": status,
            "started_at": iso(self.clock.datetime(study.published_at + k * interval)),
            "completed_at": completed, "return_requested": None}
        if not detail:
            return {**body, "participant_id": participant_id, "has_siblings": False,
                    "study_code": "C0DE" if done else None}
        now = self.clock.now()
        shown = [p.amount for p in self.payments if p.submission_id == submission_id
                 and p.at + self.bonus_delay <= now]
        return {**body, "participant": participant_id, "study_id": study.id,
                "entered_code": "C0DE" if done else None, "bonus_payments": shown}

    def _participants(self, study: StudyRec) -> dict[str, str]:
        """Participant id -> submission id, for everyone who took part."""
        found = {}
        for k in range(self._count(study)):
            _, submission_id, participant_id = self.world.participant(study, k)
            found[participant_id] = submission_id
        return found

    # -- the wallet -----------------------------------------------------------------------

    @asynccontextmanager
    async def _wallet(self) -> AsyncIterator[None]:
        """One money operation: refused with a 429 while the wallet is busy."""
        if self.wallet_slots is not None and self._in_flight >= self.wallet_slots:
            self.contention += 1
            raise Reject(web.json_response(
                {"detail": "Too many requests: the workspace wallet is busy"}, status=429,
                headers={"Retry-After": self.wallet_retry_after}))
        self._in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            if self.wallet_hold:
                await asyncio.sleep(self.wallet_hold)
            yield
        finally:
            self._in_flight -= 1


class MoneyApi:
    """The submission and bonus endpoints, over `Money` (routes added to the API host)."""

    def __init__(self, money: Money, api: Api) -> None:
        self.money = money
        self.api = api

    def add_routes(self, app: web.Application) -> None:
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/api/v1/studies/{study_id}/submissions", self._list),
            ("GET", "/api/v1/studies/{study_id}/submissions/counts", self._counts),
            ("GET", "/api/v1/submissions/{submission_id}", self._get),
            ("POST", "/api/v1/submissions/{submission_id}/transition", self._transition),
            ("POST", "/api/v1/submissions/bulk-approve", self._bulk_approve),
            ("POST", "/api/v1/submissions/bonus-payments", self._create_bonus),
            ("POST", "/api/v1/bulk-bonus-payments/{bonus_id}/pay", self._pay),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, path, handler)
            app.router.add_route(method, path + "/", handler)

    def _study(self, request: web.Request) -> StudyRec:
        study = self.money.world.studies.get(request.match_info["study_id"])
        if study is None:
            raise _not_found("study")
        return study

    def _submission(self, submission_id: str) -> tuple[StudyRec, int]:
        found = self.money._find(submission_id)
        if found is None:
            raise _not_found("submission")
        return found

    async def _list(self, request: web.Request) -> web.Response:
        study = self._study(request)
        self.money._settle()
        try:
            limit = int(request.query.get("limit", 200))
            offset = int(request.query.get("offset", 0))
        except ValueError:
            raise _bad_request({"limit": ["Must be an integer."]}) from None
        if not 1 <= limit <= 500 or offset < 0:
            raise _bad_request({"limit": ["Must be between 1 and 500."]})
        count = self.money._count(study)
        rows = [self.money._submission(study, k)
                for k in range(offset, min(count, offset + limit))]
        return web.json_response({"results": rows, "meta": {"count": count}})

    async def _counts(self, request: web.Request) -> web.Response:
        study = self._study(request)
        self.money._settle()
        counts = dict.fromkeys(("ACTIVE", "APPROVED", "AWAITING REVIEW", "REJECTED", "RESERVED",
                                "RETURNED", "TIMED-OUT", "PARTIALLY APPROVED", "SCREENED OUT"),
                               0)
        for k in range(self.money._count(study)):
            counts[self.money._status(study, k)] += 1
        return web.json_response({**counts, "TOTAL": sum(counts.values())})

    async def _get(self, request: web.Request) -> web.Response:
        self.money._settle()
        study, k = self._submission(request.match_info["submission_id"])
        return web.json_response(self.money._submission(study, k, detail=True))

    async def _transition(self, request: web.Request) -> web.Response:
        data = await self.api._json(request)
        async with self.money._wallet():
            self.money._settle()
            submission_id = request.match_info["submission_id"]
            study, k = self._submission(submission_id)
            action = data.get("action")
            status = self.money._status(study, k)
            target = {"APPROVE": "APPROVED", "REJECT": "REJECTED"}.get(str(action))
            if target is None:
                raise _bad_request({"action": [f"Invalid action {action!r}."]})
            if action == "REJECT":
                message = data.get("message")
                if not isinstance(message, str) or len(message) < 100:
                    raise _bad_request({"message": ["Must be at least 100 characters."]})
                if data.get("rejection_category") not in REJECTION_CATEGORIES:
                    raise _bad_request({"rejection_category": ["Invalid category."]})
            # The endpoint is idempotent: the same transition again is ignored.
            if status != target:
                if status != "AWAITING REVIEW":
                    raise _bad_request(f"cannot {str(action).lower()} a submission that is "
                                       f"{status}")
                self.money._decide(study, submission_id, target, self.money.clock.now())
            body = self.money._submission(study, k, detail=True)
            del body["bonus_payments"]
            return web.json_response(body)

    async def _bulk_approve(self, request: web.Request) -> web.Response:
        data = await self.api._json(request)
        async with self.money._wallet():
            ids = data.get("submission_ids")
            if ids is None and data.get("study_id") is not None:
                study = self.money.world.studies.get(str(data["study_id"]))
                if study is None:
                    raise _not_found("study")
                by_participant = self.money._participants(study)
                ids = [by_participant.get(p, p) for p in data.get("participant_ids") or []]
            if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
                raise _bad_request({"submission_ids": ["Must be a non-empty list of ids."]})
            if len(ids) > 1000:
                raise _bad_request({"submission_ids": ["At most 1000 ids per request."]})
            unknown = [i for i in ids if self.money._find(i) is None]
            if unknown:
                raise _bad_request({"submission_ids": [f"Unknown ids: {', '.join(unknown[:5])}"]})
            self.money._bulk.append((self.money.clock.now() + self.money.bulk_approve_delay,
                                     list(ids)))
            return web.json_response("The request to bulk approve has been made successfully.")

    async def _create_bonus(self, request: web.Request) -> web.Response:
        data = await self.api._json(request)
        async with self.money._wallet():
            study = self.money.world.studies.get(str(data.get("study_id")))
            if study is None:
                raise _not_found("study")
            text = data.get("csv_bonuses")
            if not isinstance(text, str) or not text.strip():
                raise _bad_request({"csv_bonuses": ["This field is required."]})
            by_participant = self.money._participants(study)
            submissions = set(by_participant.values())
            entries: list[tuple[str, int]] = []
            wrong: list[str] = []
            for number, line in enumerate(text.strip().splitlines(), 1):
                key, _, amount = line.strip().partition(",")
                if not _AMOUNT.fullmatch(amount.strip()) or _minor(amount.strip()) < 1:
                    raise _bad_request({"csv_bonuses": [f"line {number}: invalid amount "
                                                        f"{amount!r}"]})
                target = key if key in submissions else by_participant.get(key)
                if target is None:
                    wrong.append(key)
                    continue
                entries.append((target, _minor(amount.strip())))
            if wrong:
                raise _simple(400, "These ids did not take part in the study: "
                              + ", ".join(wrong[:10]))
            bonus = BonusRec(id=self.money.world.new_id("bonus").replace("-", "")[:24],
                             study_id=study.id, entries=entries,
                             created_at=self.money.clock.now())
            self.money.bonuses[bonus.id] = bonus
            return web.json_response({
                "id": bonus.id, "study": study.id, "amount": bonus.amount,
                "fees": float(bonus.fees), "vat": 0, "total_amount": float(bonus.total)},
                status=201)

    async def _pay(self, request: web.Request) -> web.Response:
        async with self.money._wallet():
            bonus = self.money.bonuses.get(request.match_info["bonus_id"])
            if bonus is None:
                raise _not_found("bulk bonus payment")
            now = self.money.clock.now()
            # Not idempotent, like the real endpoint: a second pay pays everyone again.
            bonus.pays.append(now)
            self.money.payments.extend(Payment(bonus.id, submission_id, amount, now)
                                       for submission_id, amount in bonus.entries)
            return web.json_response(
                "Successfully received bonus payments request. The bonuses will be paid "
                "asynchronously.", status=202)


def _minor(amount: str) -> int:
    """The documented CSV decimal (``4.25``, in the study's currency) in minor units."""
    return int(Decimal(amount) * 100)
