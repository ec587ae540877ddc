"""Webhooks ("hooks"): event types, workspace secrets, subscriptions, the delivery log, and
the event a receiver hands out (REFERENCE §10d; the API marks hooks experimental)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from .._secret import Secret
from .common import OpenEnum

__all__ = ["HookDelivery", "HookDeliveryStatus", "HookEvent", "HookEventType",
           "HookEventTypeInfo", "HookSecret", "HookSubscription"]


class HookEventType(OpenEnum):
    """What a webhook is about. Study events carry the study id as ``resource_id``;
    ``submission.status.change`` carries the submission's id (and no study id)."""

    STUDY_STATUS_CHANGE = "study.status.change"
    STUDY_PROGRESS_CHANGE = "study.progress.change"
    STUDY_HIGH_RETURN_RATE = "study.has_high_return_rate"
    SUBMISSION_STATUS_CHANGE = "submission.status.change"


class HookDeliveryStatus(OpenEnum):
    """Where one delivery of the log stands: ``FAILED`` when the target did not answer 2xx."""

    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@attrs.frozen(kw_only=True)
class HookEventTypeInfo:
    """One event type that can be subscribed to (``client.hooks.event_types()``)."""

    event_type: HookEventType
    description: str | None = None


@attrs.frozen(kw_only=True)
class HookSecret:
    """A workspace's signing secret. ``value`` is a `Secret`: ``value.reveal()`` gives the
    string to hand to `HookReceiver`; it is never shown in a ``repr`` or a log.

    Example::

        secret = await client.hooks.create_secret(workspace_id)
        receiver = pa.HookReceiver(secret.value)
    """

    id: str
    value: Secret
    workspace_id: str | None = None


@attrs.frozen(kw_only=True)
class HookSubscription:
    """A webhook subscription: Prolific POSTs each ``event_type`` event to ``target_url``."""

    id: str
    event_type: HookEventType
    target_url: str
    workspace_id: str | None = None
    is_enabled: bool | None = None


@attrs.frozen(kw_only=True)
class HookDelivery:
    """One entry of a subscription's delivery log (``client.hooks.events(...)``)."""

    id: str
    event_type: HookEventType
    resource_id: str
    status: HookDeliveryStatus
    target_url: str | None = None
    datetime_created: datetime | None = None
    datetime_updated: datetime | None = None
    payload: dict[str, Any] | None = None


@attrs.frozen(kw_only=True)
class HookEvent:
    """One verified webhook delivery, as `HookReceiver` hands it out.

    ``event_id`` is the ``X-Event-ID`` header (the same on every redelivery, None if absent);
    ``sent_at`` the ``X-Timestamp`` header (when Prolific sent it: deliveries are not in
    order). ``status`` and ``participant_id`` are set on the event types that carry them;
    ``payload`` is the whole JSON body.

    Example::

        async for event in receiver:
            if event.event_type == pa.HookEventType.STUDY_STATUS_CHANGE:
                print(event.resource_id, event.status)
    """

    event_id: str | None
    event_type: HookEventType
    resource_id: str
    status: str | None = None
    participant_id: str | None = None
    sent_at: datetime | None = None
    payload: dict[str, Any] = attrs.field(factory=dict, repr=False)
