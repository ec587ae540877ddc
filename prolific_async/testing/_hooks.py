"""The fake's webhooks: secrets, subscriptions and their confirmation as documented, and
signed deliveries of the study and submission events the simulation produces, to loopback
target URLs, retried on failure, with seeded drops, repeats and reordering.

Events come from comparing what the `World` shows now with what it showed at the last scan:
a scan runs after every API answer, when a test calls `FakeHooks.settle`, and on a timer
while studies collect submissions on a running clock.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import math
import random
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import anyio
import attrs
from aiohttp import web
from anyio.abc import TaskGroup

from ._api import Api, _bad_request, _not_found
from ._clock import FakeClock, iso
from ._server import Handler
from ._state import StudyRec, World

__all__ = ["DeliveryRec", "FakeHooks", "SubscriptionRec"]

EVENT_TYPES = {
    "study.status.change": "A status change event for studies",
    "study.progress.change": "A study's places taken changed",
    "study.has_high_return_rate": "A study has a high rate of returned submissions",
    "submission.status.change": "A status change event for submissions",
}
#: Prolific retries a failed delivery "up to 11 additional times".
ATTEMPTS = 12
#: The longest the scan timer sleeps (real seconds) while a running clock moves studies on.
MAX_SCAN_GAP = 1.0
#: The shortest gap between two scans woken by API answers, so a busy fake does not spend
#: its time scanning (a test's `FakeHooks.settle` scans at once regardless).
MIN_SCAN_GAP = 0.005


@attrs.define
class SubscriptionRec:
    id: str
    workspace_id: str
    event_type: str
    target_url: str
    hook_secret: str
    is_enabled: bool = True
    confirmed: bool = False

    def json(self) -> dict[str, Any]:
        return {"id": self.id, "workspace_id": self.workspace_id, "event_type": self.event_type,
                "target_url": self.target_url, "is_enabled": self.is_enabled}


@attrs.define
class DeliveryRec:
    """One event for one subscription, and what happened to it (``posts``: attempts sent)."""

    id: str
    subscription: SubscriptionRec
    payload: dict[str, Any]
    created: float
    status: str = "PENDING"
    updated: float = 0.0
    posts: int = 0
    #: Decided when the event is made, so a seeded run is repeatable: never sent, sent
    #: twice, held back this long (real seconds) to overtake or be overtaken.
    drop: bool = False
    repeat: bool = False
    hold: float = 0.0

    def json(self, clock: FakeClock) -> dict[str, Any]:
        return {"id": self.id, "event_type": self.payload["event_type"],
                "resource_id": self.payload["resource_id"], "status": self.status,
                "target_url": self.subscription.target_url, "payload": self.payload,
                "datetime_created": iso(clock.datetime(self.created)),
                "datetime_updated": iso(clock.datetime(self.updated or self.created))}


class FakeHooks:
    """``fake.hooks``: the webhook side of `FakeProlific`.

    Example::

        fake.hooks.faults(seed=3, drop=0.0, repeat=0.5, reorder=0.5)
        fake.clock.advance(5)
        await fake.hooks.settle()            # every event so far delivered (or given up)
        fake.hooks.deliveries                # DeliveryRec per event and subscription

    ``retry_base`` (real seconds) starts the backoff between the 12 attempts of a delivery
    that the target refuses or cannot be reached for.
    """

    def __init__(self, *, api: Api, world: World, clock: FakeClock, seed: int,
                 retry_base: float = 0.05) -> None:
        self._api = api
        self.world = world
        self.clock = clock
        self.retry_base = retry_base
        self.secrets: dict[str, dict[str, str]] = {}
        self.subscriptions: dict[str, SubscriptionRec] = {}
        self.deliveries: list[DeliveryRec] = []
        self._rng = random.Random(f"hooks:{seed}")
        self._drop = self._repeat = self._reorder = 0.0
        self._reorder_delay = 0.2
        self._status: dict[str, str] = {}
        self._counts: dict[str, int] = {}
        self._pending = 0
        #: Delivery attempts sent so far (repeats and retries included).
        self.attempts: int = 0
        self._attempted: anyio.Event | None = None
        self._idle: anyio.Event | None = None
        self._kick: anyio.Event | None = None
        self._session: aiohttp.ClientSession | None = None
        self._tg: TaskGroup | None = None

    def faults(self, *, seed: int, drop: float = 0.0, repeat: float = 0.0,
               reorder: float = 0.0, reorder_delay: float = 0.2) -> None:
        """Seeded delivery faults, each the fraction of events it hits: ``drop`` never
        delivers (the event is logged FAILED: a delivery lost for good), ``repeat`` delivers
        twice with the same ``X-Event-ID``, ``reorder`` holds the delivery back a uniform
        ``[0, reorder_delay]`` real seconds so later events overtake it."""
        for name, rate in (("drop", drop), ("repeat", repeat), ("reorder", reorder)):
            if not 0 <= rate <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {rate!r}")
        if not reorder_delay >= 0:
            raise ValueError(f"reorder_delay must be >= 0, got {reorder_delay!r}")
        self._rng = random.Random(f"hooks:{seed}")
        self._drop, self._repeat, self._reorder = drop, repeat, reorder
        self._reorder_delay = reorder_delay

    async def settle(self) -> None:
        """Look for new events now, and wait until every delivery so far has succeeded or
        given up (retries included)."""
        self.scan()
        while self._pending:
            if self._idle is None:
                self._idle = anyio.Event()
            await self._idle.wait()

    async def wait_for_attempts(self, count: int) -> None:
        """Wait until ``count`` delivery attempts have been sent in all (answered or not)."""
        while self.attempts < count:
            if self._attempted is None:
                self._attempted = anyio.Event()
            await self._attempted.wait()

    # -- serving -----------------------------------------------------------------------------

    def install(self, app: web.Application) -> None:
        """Add the hooks routes to the API app, a scan after each answer, and the sender."""
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/event-types", self._event_types),
            ("GET", "/secrets", self._list_secrets),
            ("POST", "/secrets", self._create_secret),
            ("GET", "/subscriptions", self._list_subscriptions),
            ("POST", "/subscriptions", self._subscribe),
            ("GET", "/subscriptions/{subscription_id}", self._get_subscription),
            ("POST", "/subscriptions/{subscription_id}", self._confirm),
            ("PATCH", "/subscriptions/{subscription_id}", self._update),
            ("DELETE", "/subscriptions/{subscription_id}", self._delete),
            ("GET", "/subscriptions/{subscription_id}/events", self._events),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, "/api/v1/hooks" + path, handler)
            app.router.add_route(method, "/api/v1/hooks" + path + "/", handler)
        app.on_response_prepare.append(self._after_answer)
        app.cleanup_ctx.append(self._sender)

    async def _after_answer(self, request: web.Request, response: web.StreamResponse) -> None:
        self._wake_scanner()

    async def _sender(self, app: web.Application) -> AsyncIterator[None]:
        task = asyncio.get_running_loop().create_task(self._run())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session, \
                anyio.create_task_group() as tg:
            self._session, self._tg = session, tg
            while True:
                self.scan()
                self._kick = anyio.Event()
                with anyio.move_on_after(self._next_scan_in()):
                    await self._kick.wait()
                    await anyio.sleep(MIN_SCAN_GAP)

    def _wake_scanner(self) -> None:
        if self._kick is not None:
            self._kick.set()

    def _next_scan_in(self) -> float:
        """Real seconds until the next submission lands on a running clock (capped)."""
        if self.clock.speed <= 0 or not self.subscriptions:
            return MAX_SCAN_GAP
        now, interval = self.clock.now(), self.world.submission_interval
        due = math.inf
        for study in self.world.studies.values():
            if study.published_at is not None and study.status == "ACTIVE":
                landed = self._counts.get(study.id, 0)
                due = min(due, study.published_at + (landed + 1) * interval)
        return min(MAX_SCAN_GAP, max(0.0, (due - now) / self.clock.speed))

    # -- events ------------------------------------------------------------------------------

    def scan(self, *, emit: bool = True) -> None:
        """Turn what changed in the `World` since the last scan into events, sent at once.

        Nothing is looked at while no subscription is confirmed (as on Prolific, events
        start with the subscription: confirming one takes a baseline with ``emit=False``).
        """
        if self._tg is None or not any(s.confirmed for s in self.subscriptions.values()):
            return
        for study in list(self.world.studies.values()):
            status = self.world.study_status(study)
            before = self._status.get(study.id, "UNPUBLISHED")
            landed = self._counts.get(study.id, 0)
            count = self.world.submission_count(study) if study.published_at is not None else 0
            self._status[study.id], self._counts[study.id] = status, count
            if not emit:
                continue
            for k in range(landed, count):
                self._emit({"resource_id": f"sub-{study.id[:8]}-{k:04d}",
                            "event_type": "submission.status.change",
                            "participant_id": self._participant(study, k),
                            "status": "AWAITING REVIEW"})
                self._emit({"resource_id": study.id, "event_type": "study.progress.change"})
            if status != before:
                self._emit({"resource_id": study.id, "event_type": "study.status.change",
                            "metadata": {}, "status": status})

    def _participant(self, study: StudyRec, k: int) -> str:
        # The same id `World.submissions` gives submission k.
        rng = random.Random(f"{self.world.seed}:{study.id}:{k}")
        return f"part-{rng.getrandbits(48):012x}"

    def _emit(self, payload: dict[str, Any]) -> None:
        assert self._tg is not None
        for sub in self.subscriptions.values():
            if not (sub.confirmed and sub.is_enabled and sub.event_type == payload["event_type"]):
                continue
            rng = self._rng
            delivery = DeliveryRec(
                id=secrets.token_hex(12), subscription=sub, payload=payload,
                created=self.clock.now(), drop=rng.random() < self._drop,
                repeat=rng.random() < self._repeat,
                hold=rng.uniform(0, self._reorder_delay) if rng.random() < self._reorder
                else 0.0)
            self.deliveries.append(delivery)
            self._pending += 1
            self._tg.start_soon(self._deliver, delivery)

    async def _deliver(self, delivery: DeliveryRec) -> None:
        try:
            if delivery.drop:
                delivery.status = "FAILED"
                return
            if delivery.hold:
                await anyio.sleep(delivery.hold)
            for attempt in range(ATTEMPTS):
                if await self._post(delivery):
                    delivery.status = "SUCCEEDED"
                    if delivery.repeat:  # at least once: the same event again
                        await self._post(delivery)
                    return
                if attempt + 1 < ATTEMPTS:
                    await anyio.sleep(self.retry_base * 2 ** attempt
                                      * (0.5 + self._rng.random()))
            delivery.status = "FAILED"
        finally:
            delivery.updated = self.clock.now()
            self._pending -= 1
            if self._pending == 0 and self._idle is not None:
                self._idle.set()
                self._idle = None

    async def _post(self, delivery: DeliveryRec) -> bool:
        """Send one signed attempt; whether the target answered 2xx."""
        assert self._session is not None
        sub = delivery.subscription
        secret = self.secrets.get(sub.workspace_id)
        if secret is None:
            return False
        body = json.dumps(delivery.payload).encode()
        timestamp = str(int(time.time()))
        signature = base64.b64encode(hmac.new(secret["value"].encode(),
                                              timestamp.encode() + body,
                                              hashlib.sha256).digest()).decode()
        delivery.posts += 1
        headers = {"Content-Type": "application/json", "X-Event-ID": delivery.id,
                   "X-Timestamp": timestamp, "X-Prolific-Request-Timestamp": timestamp,
                   "X-Prolific-Request-Signature": signature}
        try:
            async with self._session.post(sub.target_url, data=body, headers=headers) as answer:
                return 200 <= answer.status < 300
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return False
        finally:
            self.attempts += 1
            if self._attempted is not None:
                self._attempted.set()
                self._attempted = None

    # -- routes ------------------------------------------------------------------------------

    async def _event_types(self, request: web.Request) -> web.Response:
        return web.json_response({"results": [
            {"event_type": name, "description": text} for name, text in EVENT_TYPES.items()]})

    def _workspace_param(self, request: web.Request) -> str:
        workspace_id = request.query.get("workspace_id")
        if not workspace_id:
            raise _bad_request({"workspace_id": ["This field is required."]})
        return workspace_id

    async def _list_secrets(self, request: web.Request) -> web.Response:
        workspace_id = self._workspace_param(request)
        found = self.secrets.get(workspace_id)
        return web.json_response({"results": [found] if found else []})

    async def _create_secret(self, request: web.Request) -> web.Response:
        data = await self._api._json(request)
        self._api._require(data, "workspace_id")
        self._api._workspace(data["workspace_id"])
        # One secret a workspace: a new one replaces the old.
        secret = {"id": secrets.token_hex(12), "workspace_id": data["workspace_id"],
                  "value": secrets.token_urlsafe(32)}
        self.secrets[data["workspace_id"]] = secret
        return web.json_response(secret, status=201)

    async def _list_subscriptions(self, request: web.Request) -> web.Response:
        workspace_id = request.query.get("workspace_id")
        enabled = request.query.get("is_enabled", "true").lower() != "false"
        found = [s.json() for s in self.subscriptions.values()
                 if s.is_enabled == enabled and workspace_id in (None, s.workspace_id)]
        return web.json_response({"results": found})

    def _check_target(self, data: dict[str, Any]) -> None:
        if data["event_type"] not in EVENT_TYPES:
            raise _bad_request({"event_type": [f"Unknown event type {data['event_type']!r}."]})
        parts = urlsplit(str(data["target_url"]))
        # Prolific wants public https; the fake delivers only on this machine.
        if parts.scheme not in ("http", "https") or parts.hostname not in (
                "127.0.0.1", "localhost", "::1"):
            raise _bad_request({"target_url": ["The fake delivers to loopback URLs only."]})

    async def _subscribe(self, request: web.Request) -> web.Response:
        data = await self._api._json(request)
        self._api._require(data, "workspace_id", "event_type", "target_url")
        self._api._workspace(data["workspace_id"])
        self._check_target(data)
        if data["workspace_id"] not in self.secrets:
            raise _bad_request("create a secret for the workspace before subscribing")
        sub = SubscriptionRec(id=secrets.token_hex(12), workspace_id=data["workspace_id"],
                              event_type=data["event_type"], target_url=data["target_url"],
                              hook_secret=secrets.token_hex(16))
        self.subscriptions[sub.id] = sub
        return web.json_response(sub.json(), status=201,
                                 headers={"X-Hook-Secret": sub.hook_secret})

    def _subscription(self, request: web.Request) -> SubscriptionRec:
        sub = self.subscriptions.get(request.match_info["subscription_id"])
        if sub is None:
            raise _not_found("subscription")
        return sub

    async def _get_subscription(self, request: web.Request) -> web.Response:
        return web.json_response(self._subscription(request).json())

    async def _confirm(self, request: web.Request) -> web.Response:
        sub = self._subscription(request)
        given = (await self._api._json(request)).get("secret")
        if not isinstance(given, str) or not hmac.compare_digest(given, sub.hook_secret):
            raise _bad_request({"secret": ["The secret does not match X-Hook-Secret."]})
        if not sub.confirmed:
            self.scan()  # what happened before reaches the subscriptions confirmed then
            sub.confirmed = True
            self.scan(emit=False)
        return web.json_response(sub.json())

    async def _update(self, request: web.Request) -> web.Response:
        sub = self._subscription(request)
        data = await self._api._json(request)
        self._api._require(data, "event_type", "target_url")
        self._check_target(data)
        sub.event_type, sub.target_url = data["event_type"], data["target_url"]
        if isinstance(data.get("is_enabled"), bool):
            sub.is_enabled = data["is_enabled"]
        return web.json_response(sub.json())

    async def _delete(self, request: web.Request) -> web.Response:
        del self.subscriptions[self._subscription(request).id]
        return web.Response(status=204)

    async def _events(self, request: web.Request) -> web.Response:
        sub = self._subscription(request)
        try:
            limit = int(request.query.get("limit", "100"))
            offset = int(request.query.get("offset", "0"))
        except ValueError:
            raise _bad_request("limit and offset must be integers") from None
        if not 1 <= limit <= 1000 or offset < 0:
            raise _bad_request({"limit": ["Ensure 1 <= limit <= 1000 and offset >= 0."]})
        status = request.query.get("status")
        try:  # one status, or a JSON array of them
            wanted = set(json.loads(status)) if status and status.startswith("[") else (
                {status} if status else None)
        except (ValueError, TypeError):
            raise _bad_request({"status": ["Not a status or a JSON array of them."]}) from None
        resource_id = request.query.get("resource_id")
        rows = [d.json(self.clock) for d in self.deliveries if d.subscription is sub
                and (wanted is None or d.status in wanted)
                and resource_id in (None, d.payload["resource_id"])]
        return web.json_response({"results": rows[offset:offset + limit]})
