"""``prolific_async.otel``: one span per request attempt, timed, with no secret in it."""

from __future__ import annotations

from typing import Any

import pytest

import prolific_async as pa
from prolific_async.testing import FakeProlific

pytest.importorskip("opentelemetry.trace")

from opentelemetry.trace import NonRecordingSpan, SpanContext, StatusCode

from prolific_async import otel

pytestmark = pytest.mark.anyio


class RecordingTracer:
    """The part of an OpenTelemetry tracer the hooks use, keeping what they record."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []

    def start_span(self, name: str, **options: Any) -> Any:
        record: dict[str, Any] = {"name": name, **options}
        self.spans.append(record)

        class Span(NonRecordingSpan):
            def set_status(self, status: Any, description: str | None = None) -> None:
                record["status"] = status

            def end(self, end_time: int | None = None) -> None:
                record["end_time"] = end_time

        return Span(SpanContext(0, 0, False))


async def test_each_attempt_is_one_timed_span_and_a_failed_one_is_marked(
    fake_prolific: FakeProlific,
) -> None:
    tracer = RecordingTracer()
    fake_prolific.inject(method="GET", path="/api/v1/data-collection/batches", status=503,
                         times=1)
    async with pa.Prolific(fake_prolific.token, base_url=fake_prolific.url,
                           retry=pa.RetryPolicy(wait_initial=0.001, wait_max=0.002),
                           **otel.hooks(tracer)) as client:  # type: ignore[arg-type]
        await client.batches.list(workspace_id=fake_prolific.workspace_id)
    failed, ok = tracer.spans
    assert failed["name"] == ok["name"] == "prolific GET"
    assert failed["attributes"]["prolific.retry_reason"] == "503"
    assert failed["status"].status_code is StatusCode.ERROR and "status" not in ok
    assert ok["attributes"]["http.response.status_code"] == 200
    assert ok["attributes"]["prolific.attempt"] == 2
    assert all(s["start_time"] <= s["end_time"] for s in tracer.spans)
    assert fake_prolific.token not in repr(tracer.spans)
