"""OpenTelemetry spans for every request attempt, from the client's hooks (the ``otel`` extra).

Example::

    from prolific_async import otel

    async with pa.Prolific(**otel.hooks()) as client:   # spans on the global tracer provider
        await client.batches.get(batch_id)

Each attempt becomes one ``CLIENT`` span named ``prolific GET`` (the method: paths hold ids, too
many names for a span), timed from its start to its end, with the path, attempt number, status
and retry reason as attributes, and an error status when the attempt failed. Nothing secret is
in them: no headers, no query string. (One span per orchestration stage is not made yet.)
"""

from __future__ import annotations

import time

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from ._observe import RequestEvent, RequestHook

__all__ = ["hooks"]


def hooks(tracer: Tracer | None = None) -> dict[str, RequestHook]:
    """The ``Prolific(...)`` keyword arguments that record a span per attempt on ``tracer``
    (by default the global provider's ``prolific_async`` tracer)."""
    chosen = tracer if tracer is not None else trace.get_tracer("prolific_async")

    def on_response(event: RequestEvent) -> None:
        # One span from the finished attempt: no state kept between two hooks, so attempts
        # running at once never get each other's span.
        end = time.time_ns()
        span = chosen.start_span(
            f"prolific {event.method}", kind=SpanKind.CLIENT,
            start_time=end - int((event.elapsed or 0.0) * 1e9),
            attributes={"http.request.method": event.method, "url.path": event.path,
                        "prolific.attempt": event.attempt,
                        **({"http.response.status_code": event.status}
                           if event.status is not None else {}),
                        **({"prolific.retry_reason": event.retry_reason}
                           if event.retry_reason else {})})
        if event.error is not None:
            span.set_status(Status(StatusCode.ERROR, event.error))
        span.end(end_time=end)

    return {"on_response": on_response}
