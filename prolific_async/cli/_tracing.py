"""Spans from the command when OpenTelemetry is set up in its process.

Run under ``opentelemetry-instrument`` (which sets up the SDK from the ``OTEL_*`` variables)
with the ``otel`` extra installed, every request a command sends is a span, and so are
``run``'s plans and stages (see `prolific_async.otel`). Otherwise nothing is added: no hook
is installed, so an untraced command pays nothing.
"""

from __future__ import annotations

import prolific_async as pa

__all__ = ["request_spans", "stage_spans"]


def _traced() -> bool:
    """Whether a tracer provider was set up in this process (the API alone records nothing)."""
    try:
        from opentelemetry import trace
    except ImportError:  # no otel extra
        return False
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def request_spans() -> pa.RequestHook | None:
    """``Prolific(on_response=...)``'s hook making a span per request attempt, when traced."""
    if not _traced():
        return None
    from .. import otel

    return otel.hooks()["on_response"]


def stage_spans() -> pa.StageHook | None:
    """``orchestrate(on_stage=...)``'s hook making a span per plan and stage, when traced."""
    if not _traced():
        return None
    from .. import otel

    return otel.stage_spans()
