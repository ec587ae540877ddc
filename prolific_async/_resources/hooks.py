"""``client.hooks``: webhook secrets, subscriptions and their delivery logs (REFERENCE §10d)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import anyio

from .._errors import UnexpectedResponseError, truncate
from .._models.hooks import (
    HookDelivery,
    HookDeliveryStatus,
    HookEventType,
    HookEventTypeInfo,
    HookSecret,
    HookSubscription,
)
from .._secret import Secret
from .._transport import Response
from .._urls import is_loopback
from ._base import Resource, required, rows_of, segment, structure

__all__ = ["Hooks", "target_url_problem"]

logger = logging.getLogger("prolific_async.hooks")

_HOOKS = "/api/v1/hooks"
#: The delivery log pages at most this many events a request (the spec's ``limit`` maximum).
MAX_EVENTS_PAGE = 1000


def target_url_problem(url: str) -> str | None:
    """What is wrong with a subscription's ``target_url``, or None.

    Prolific delivers only to public https URLs; plain http is accepted for loopback only,
    where the fake server delivers.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        return f"it is not a valid URL ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "it must be an https URL like 'https://example.com/prolific/hooks'"
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        return "it must use https (plain http is accepted only for localhost and 127.0.0.1)"
    return None


class Hooks(Resource):
    """Webhooks: Prolific POSTs study and submission events to your server (experimental in
    the API). Receive them with `HookReceiver`.

    Example::

        secret = await client.hooks.create_secret(workspace_id)   # replaces the old one
        sub = await client.hooks.subscribe(workspace_id=workspace_id,
                                           event_type="study.status.change",
                                           target_url="https://example.com/prolific/hooks")
        receiver = pa.HookReceiver(secret.value)
    """

    async def event_types(self) -> list[HookEventTypeInfo]:
        """The event types that can be subscribed to."""
        response = await self._request("GET", f"{_HOOKS}/event-types/")
        rows = _rows(response)
        # Older answers list bare names; the spec lists {event_type, description}.
        return [HookEventTypeInfo(event_type=HookEventType(row)) if isinstance(row, str)
                else structure(response, row, HookEventTypeInfo) for row in rows]

    async def create_secret(self, workspace_id: str) -> HookSecret:
        """Make the workspace's signing secret. This REPLACES the previous one (a workspace
        has one at a time): receivers still holding the old secret refuse every delivery
        from then on."""
        response = await self._request(
            "POST", f"{_HOOKS}/secrets/", idempotent=False,
            json_body={"workspace_id": required("workspace_id", workspace_id)})
        return _secret(response, response.data)

    async def secrets(self, workspace_id: str) -> list[HookSecret]:
        """The workspace's secret(s), values masked as `Secret`."""
        response = await self._request(
            "GET", f"{_HOOKS}/secrets/",
            params={"workspace_id": required("workspace_id", workspace_id)})
        return [_secret(response, row) for row in _rows(response)]

    async def subscribe(
        self, *, workspace_id: str, event_type: HookEventType | str, target_url: str,
    ) -> HookSubscription:
        """Subscribe ``target_url`` to ``event_type`` events, and confirm it.

        Creating answers with an ``X-Hook-Secret`` header that must be sent back to confirm
        the subscription; this does both. The workspace needs a secret first
        (`create_secret`). ``target_url`` must be https (http only on loopback). If the
        confirmation fails, the unconfirmed subscription is deleted before the error is
        raised, so none is left half made.
        """
        required("workspace_id", workspace_id)
        required("event_type", str(event_type))
        problem = target_url_problem(required("target_url", target_url))
        if problem is not None:
            raise ValueError(f"target_url {target_url!r} is refused: {problem}")
        response = await self._request(
            "POST", f"{_HOOKS}/subscriptions/", idempotent=False,
            json_body={"workspace_id": workspace_id, "event_type": str(event_type),
                       "target_url": target_url})
        data = response.data
        # The spec types this answer as a list of one; the guide as the subscription itself.
        rows = rows_of(data) if isinstance(data, dict) and "results" in data else None
        created: HookSubscription = structure(response, rows[0] if rows else data, HookSubscription)
        hook_secret = response.headers.get("X-Hook-Secret")
        try:
            if not hook_secret:
                raise UnexpectedResponseError(
                    f"{response.request} answered without the X-Hook-Secret header needed to "
                    "confirm the subscription", body=data, request=response.request)
            confirmed: HookSubscription = await self._call(
                "POST", f"{_HOOKS}/subscriptions/{segment('subscription_id', created.id)}/",
                HookSubscription, json_body={"secret": hook_secret})
        except BaseException:
            await self._drop_unconfirmed(created.id)
            raise
        return confirmed

    async def _drop_unconfirmed(self, subscription_id: str) -> None:
        try:
            # Shielded (also when the confirmation was cancelled), and bounded.
            with anyio.move_on_after(30, shield=True):
                await self.unsubscribe(subscription_id)
        except Exception as exc:  # the confirmation error is the one to raise
            logger.warning("could not delete unconfirmed subscription %s: %s",
                           subscription_id, exc)

    async def subscriptions(
        self, workspace_id: str | None = None, *, enabled: bool | None = None,
    ) -> list[HookSubscription]:
        """Your subscriptions, in one workspace or all; ``enabled`` filters on the server
        (the API's default lists enabled ones only)."""
        params: dict[str, str | int] = {}
        if workspace_id is not None:
            params["workspace_id"] = required("workspace_id", workspace_id)
        if enabled is not None:
            params["is_enabled"] = "true" if enabled else "false"
        subscriptions: list[HookSubscription] = await self._call(
            "GET", f"{_HOOKS}/subscriptions/", HookSubscription, rows=True, params=params or None)
        return subscriptions

    async def get(self, subscription_id: str) -> HookSubscription:
        """One subscription."""
        sub: HookSubscription = await self._call("GET", _sub_path(subscription_id),
                                                 HookSubscription)
        return sub

    async def update(
        self, subscription_id: str, *, event_type: HookEventType | str | None = None,
        target_url: str | None = None, is_enabled: bool | None = None,
    ) -> HookSubscription:
        """Change a subscription; ``is_enabled=False`` pauses deliveries. The API wants the
        event type and target URL on every update, so those not given are read first."""
        if target_url is not None:
            problem = target_url_problem(target_url)
            if problem is not None:
                raise ValueError(f"target_url {target_url!r} is refused: {problem}")
        if event_type is None or target_url is None:
            current = await self.get(subscription_id)
            event_type = current.event_type if event_type is None else event_type
            target_url = current.target_url if target_url is None else target_url
        body: dict[str, Any] = {"event_type": str(event_type), "target_url": target_url}
        if is_enabled is not None:
            body["is_enabled"] = is_enabled
        sub: HookSubscription = await self._call("PATCH", _sub_path(subscription_id),
                                                 HookSubscription, json_body=body)
        return sub

    async def unsubscribe(self, subscription_id: str) -> None:
        """Delete a subscription (use ``update(..., is_enabled=False)`` to pause one)."""
        await self._call("DELETE", _sub_path(subscription_id))

    async def events(
        self, subscription_id: str, *, status: HookDeliveryStatus | str | None = None,
        resource_id: str | None = None, page_size: int = 100,
    ) -> AsyncIterator[HookDelivery]:
        """The subscription's delivery log, oldest first, one page of ``page_size`` (at most
        1000) a request; ``status`` keeps PENDING, SUCCEEDED or FAILED deliveries.

        Example::

            async for event in client.hooks.events(sub.id, status="FAILED"):
                print(event.resource_id, event.datetime_created)
        """
        if isinstance(page_size, bool) or not isinstance(page_size, int) \
                or not 1 <= page_size <= MAX_EVENTS_PAGE:
            raise ValueError(f"page_size must be 1 to {MAX_EVENTS_PAGE}, got {page_size!r}")
        params: dict[str, str | int] = {"limit": page_size}
        if status is not None:
            params["status"] = required("status", str(status))
        if resource_id is not None:
            params["resource_id"] = required("resource_id", resource_id)
        path = f"{_sub_path(subscription_id)}events/"
        offset = 0
        while True:
            page: list[HookDelivery] = await self._call(
                "GET", path, HookDelivery, rows=True, params={**params, "offset": offset})
            for event in page:
                yield event
            if len(page) < page_size:
                return
            offset += len(page)


def _sub_path(subscription_id: str) -> str:
    return f"{_HOOKS}/subscriptions/{segment('subscription_id', subscription_id)}/"


def _rows(response: Response) -> list[Any]:
    rows = rows_of(response.data)
    if rows is None:
        raise UnexpectedResponseError(
            f"{response.request} answered {response.status} with a body that is not a list: "
            f"{truncate(repr(response.data), 200)}", body=response.data, request=response.request)
    return rows


def _secret(response: Response, data: Any) -> HookSecret:
    """A secret, its value wrapped at once so no plain copy lingers in a model."""
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) \
            or not isinstance(data.get("value"), str) or not data["value"]:
        raise UnexpectedResponseError(
            f"{response.request} answered {response.status} with a body that is not a secret "
            "({id, value, workspace_id})", body=None, request=response.request)
    workspace = data.get("workspace_id")
    return HookSecret(id=data["id"], value=Secret(data["value"]),
                      workspace_id=workspace if isinstance(workspace, str) else None)

