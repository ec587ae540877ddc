"""OpenTelemetry spans for every request attempt and every orchestration stage (the ``otel``
extra).

Example::

    from prolific_async import otel

    async with pa.Prolific(**otel.hooks()) as client:   # spans on the global tracer provider
        async with pa.orchestrate(client, plans, on_stage=otel.stage_spans()) as run:
            await run.wait()

`hooks` makes each attempt one ``CLIENT`` span named ``prolific GET`` (the method: paths hold
ids, too many names for a span), timed from its start to its end, with the path, attempt
number, status and retry reason as attributes, and an error status when the attempt failed.

`stage_spans` makes each plan of an `orchestrate` run one ``INTERNAL`` span named ``prolific
plan``, and each of its stages one named ``prolific stage <stage>`` (``prolific stage
dataset_create``...) inside it, skipped stages included. They carry the plan's name, the
stage, its outcome (``done``, ``skipped``, ``failed``, ``cancelled``), why it was skipped,
and the ids it created or adopted (``prolific.batch_id``...; the plan's span: all of them);
a failed one has an error status with the exception's type and message. A stage's span is
current while it runs, so the spans of the requests it sends are its children. (A request
shared by several plans, such as one poll of a workspace's batches or the run's first look at
a workspace, is sent by one of them: its span is in that plan's.)

Nothing secret is in any of them: no headers, no query string, not even inside an error's
message.
"""
from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from typing import TypedDict

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from ._observe import RequestEvent, RequestHook
from .orchestration._stage_hook import StageHook, StageRun

__all__ = ["RequestHooks", "hooks", "stage_spans"]

#: A URL's query string (a presigned URL's signature is there) and fragment.
_QUERY = re.compile(r"(\w+://[^\s?#]*)[?#][^\s'\"<>]*")
#: Longest error message kept in a span's status.
_MAX_MESSAGE = 1000


class RequestHooks(TypedDict, total=False):
    """``Prolific(...)``'s hook keyword arguments, as `hooks` returns them (typed, so
    ``Prolific(**otel.hooks())`` type-checks).

    Example::

        spans = otel.hooks()
        async with pa.Prolific(on_request=log, on_response=spans["on_response"]) as client:
            ...
    """

    on_request: RequestHook
    on_response: RequestHook


def hooks(tracer: Tracer | None = None) -> RequestHooks:
    """The ``Prolific(...)`` keyword arguments that record a span per attempt on ``tracer``
    (by default the global provider's ``prolific_async`` tracer).

    Example::

        async with pa.Prolific(**otel.hooks()) as client:
            await client.batches.get(batch_id)
    """
    chosen = _tracer(tracer)

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


def stage_spans(tracer: Tracer | None = None) -> StageHook:
    """The ``orchestrate(on_stage=...)`` hook that records a span per plan and per stage on
    ``tracer`` (by default the global provider's ``prolific_async`` tracer).

    Example::

        async with pa.orchestrate(client, plans, on_stage=otel.stage_spans()) as run:
            await run.wait()
    """
    chosen = _tracer(tracer)

    @contextlib.contextmanager
    def span_of(run: StageRun) -> Iterator[None]:
        attributes = {"prolific.plan": run.plan}
        if run.stage is not None:
            attributes["prolific.stage"] = run.stage.value
        name = "prolific plan" if run.stage is None else f"prolific stage {run.stage.value}"
        span = chosen.start_span(name, kind=SpanKind.INTERNAL, attributes=attributes)
        # Current while the stage runs: its requests' spans (made in this task) nest in it.
        # Its status is the run's outcome, set below, not the exception's mere passage.
        with trace.use_span(span, end_on_exit=True, record_exception=False,
                            set_status_on_exception=False):
            try:
                yield
            finally:
                _record(span, run)

    return span_of


def _record(span: Span, run: StageRun) -> None:
    span.set_attribute("prolific.outcome", run.outcome or "done")
    if run.message:
        span.set_attribute("prolific.message", _safe(run.message))
    for key, value in run.ids.items():
        span.set_attribute(f"prolific.{key}", value)
    if run.created:
        span.set_attribute("prolific.created", sorted(run.created))
    if run.error is not None:
        kind = type(run.error).__qualname__
        span.set_attribute("error.type", kind)
        span.set_status(Status(StatusCode.ERROR, _safe(f"{kind}: {run.error}")))


def _safe(text: str) -> str:
    """``text`` without any URL's query string, and of bounded length."""
    text = _QUERY.sub(r"\1?…", text)
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE - 1] + "…"


def _tracer(tracer: Tracer | None) -> Tracer:
    return tracer if tracer is not None else trace.get_tracer("prolific_async")
