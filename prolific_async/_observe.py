"""Request hooks: ``Prolific(on_request=..., on_response=...)``, called once per attempt.

The hooks see what a log line or a trace span needs (method, path, attempt number, status,
time taken, why it will be retried) and nothing secret: no headers, no query string, no body.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

__all__ = ["RequestEvent", "RequestHook"]


@attrs.frozen
class RequestEvent:
    """One attempt of one request, as a hook sees it.

    ``path`` is the API path (or a storage URL) without its query string. ``on_request``
    hooks get it before the attempt is sent (``status`` and ``elapsed`` are None);
    ``on_response`` hooks after it ended: ``status`` is the HTTP status (None when no answer
    came), ``error`` the name of the error it became, and ``retry_reason`` why it will be
    sent again (``"429"``, ``"503"``, ``"timeout"``, ``"connection"``; None: it will not).

    Example::

        def log(event: pa.RequestEvent) -> None:
            print(event.method, event.path, event.attempt, event.status, event.elapsed)

        async with pa.Prolific(on_response=log) as client:
            await client.batches.get(batch_id)
    """

    method: str
    path: str
    attempt: int
    status: int | None = None
    elapsed: float | None = None
    retry_reason: str | None = None
    error: str | None = None


#: What ``on_request`` and ``on_response`` take.
RequestHook = Callable[[RequestEvent], object]


@attrs.frozen
class Hooks:
    """The hooks of one client; the transport holds None when there are none, so an unused
    hook costs one ``is None`` test per attempt."""

    on_request: RequestHook | None = None
    on_response: RequestHook | None = None

    def request(self, event: RequestEvent) -> None:
        if self.on_request is not None:
            self.on_request(event)

    def response(self, event: RequestEvent) -> None:
        if self.on_response is not None:
            self.on_response(event)


def hooks_of(on_request: RequestHook | None, on_response: RequestHook | None) -> Hooks | None:
    if on_request is None and on_response is None:
        return None
    return Hooks(on_request, on_response)
