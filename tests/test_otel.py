"""``prolific_async.otel``: one span per request attempt, timed, and one per plan and per stage
of a run, the requests inside their stage, with no secret in any."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import prolific_async as pa
from prolific_async.testing import FakeClock, FakeProlific

from .orchestration import client_for, plan, run_all

pytest.importorskip("opentelemetry.trace")
pytest.importorskip("opentelemetry.sdk.trace")

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, StatusCode, Tracer

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
                           **otel.hooks(tracer)) as client:
        await client.batches.list(workspace_id=fake_prolific.workspace_id)
    failed, ok = tracer.spans
    assert failed["name"] == ok["name"] == "prolific GET"
    assert failed["attributes"]["prolific.retry_reason"] == "503"
    assert failed["status"].status_code is StatusCode.ERROR and "status" not in ok
    assert ok["attributes"]["http.response.status_code"] == 200
    assert ok["attributes"]["prolific.attempt"] == 2
    assert all(s["start_time"] <= s["end_time"] for s in tracer.spans)
    assert fake_prolific.token not in repr(tracer.spans)


# -- one span per plan and per stage (``orchestrate(on_stage=otel.stage_spans())``) ----------


@pytest.fixture
def exported() -> Iterator[tuple[Tracer, InMemorySpanExporter]]:
    """A tracer of a provider of its own (the global one is left alone), and its spans."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider.get_tracer("test"), exporter
    provider.shutdown()


async def test_each_stage_is_a_span_in_its_plans_span_with_its_requests_inside(
        exported: tuple[Tracer, InMemorySpanExporter], tmp_path: Path) -> None:
    tracer, exporter = exported
    async with FakeProlific(clock=FakeClock(speed=0, per_request=0.25), seed=5,
                            fail_names={"plan-bad"}) as fake:
        plans = [plan("plan-a", fake.workspace_id, tmp_path),
                 plan("plan-b", fake.workspace_id, publish=False),
                 plan("plan-bad", fake.workspace_id)]
        async with client_for(fake, **otel.hooks(tracer)) as client:
            with tracer.start_as_current_span("my run") as outer:
                results, _ = await run_all(client, plans, on_stage=otel.stage_spans(tracer))
        token = fake.token
    spans = exporter.get_finished_spans()
    by_id = {s.context.span_id: s for s in spans}
    whole = {s.attributes["prolific.plan"]: s for s in spans if s.name == "prolific plan"}
    stages = [s for s in spans if s.name.startswith("prolific stage ")]
    requests = [s for s in spans if s.kind is SpanKind.CLIENT]
    assert len(spans) == 1 + len(whole) + len(stages) + len(requests)  # and "my run"

    # One span per plan, in the caller's span; one per stage in its plan's span.
    assert set(whole) == {"plan-a", "plan-b", "plan-bad"}
    for span in whole.values():
        assert span.kind is SpanKind.INTERNAL and span.parent is not None
        assert span.parent.span_id == outer.get_span_context().span_id
    for span in stages:
        assert span.kind is SpanKind.INTERNAL and span.parent is not None
        assert by_id[span.parent.span_id] is whole[span.attributes["prolific.plan"]]
        assert span.name == f"prolific stage {span.attributes['prolific.stage']}"
    a, b, bad = results
    stage_a = {s.attributes["prolific.stage"]: s for s in stages
               if s.attributes["prolific.plan"] == "plan-a"}
    assert list(stage_a) == [stage.value for stage in pa.Stage]
    assert stage_a["batch_create"].attributes["prolific.batch_id"] == a.batch_id
    assert stage_a["batch_create"].attributes["prolific.created"] == ("batch_id",)
    assert stage_a["study_create"].attributes["prolific.study_id"] == a.study_id
    assert stage_a["download"].attributes["prolific.outcome"] == "done"
    assert stage_a["feed"].attributes["prolific.outcome"] == "skipped"
    assert stage_a["feed"].attributes["prolific.message"]
    assert all(s.status.status_code is StatusCode.UNSET for s in stage_a.values())
    assert whole["plan-a"].attributes["prolific.batch_id"] == a.batch_id
    assert whole["plan-b"].attributes["prolific.outcome"] == "done" and b.ok

    # The failed stage and its plan: an error status naming the error; nothing ran after it.
    failed = [s for s in stages if s.attributes["prolific.plan"] == "plan-bad"][-1]
    assert failed.attributes["prolific.stage"] == "dataset_ready"
    for span in (failed, whole["plan-bad"]):
        assert span.attributes["prolific.outcome"] == "failed"
        assert span.attributes["error.type"] == "ResourceFailed"
        assert span.status.status_code is StatusCode.ERROR
        assert span.status.description == f"ResourceFailed: {bad.error}"

    # Every request span is a child of a stage (or of its plan, looking up its batch): the
    # POST that made a plan's batch is in that plan's batch_create stage.
    parents = {s.context.span_id: by_id[s.parent.span_id] for s in requests if s.parent}
    assert requests and len(parents) == len(requests)
    assert all(span in (*stages, *whole.values()) for span in parents.values())
    made = [parents[s.context.span_id] for s in requests
            if s.attributes["http.request.method"] == "POST"
            and str(s.attributes["url.path"]).endswith("/data-collection/batches")]
    assert sorted(span.attributes["prolific.plan"] for span in made) == ["plan-a", "plan-b"]
    assert {span.name for span in made} == {"prolific stage batch_create"}

    # Nothing secret: no token, no query string of a presigned URL.
    everything = repr([(s.name, dict(s.attributes or {}), s.status.description) for s in spans])
    assert token not in everything and "?" not in everything


def test_a_failed_stage_span_keeps_no_query_string_of_a_url_in_its_message(
        exported: tuple[Tracer, InMemorySpanExporter]) -> None:
    tracer, exporter = exported
    hook = otel.stage_spans(tracer)
    run = pa.StageRun(plan="p", stage=pa.Stage.DOWNLOAD)
    signed = "https://storage.example/export.zip?X-Amz-Signature=abc123&X-Amz-Credential=k"
    with pytest.raises(pa.StorageError), hook(run):
        run.outcome, run.error = "failed", pa.StorageError(f"storage answered 403 ({signed})")
        raise run.error
    [span] = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description is not None
    assert "https://storage.example/export.zip" in span.status.description
    assert "abc123" not in span.status.description and "Credential" not in repr(span.attributes)


async def test_leaving_a_run_early_ends_its_spans_as_cancelled_not_failed(
        exported: tuple[Tracer, InMemorySpanExporter], fake_prolific: FakeProlific,
        caplog: pytest.LogCaptureFixture) -> None:
    tracer, exporter = exported
    plans = [plan(f"left-{n}", fake_prolific.workspace_id) for n in range(2)]
    async with client_for(fake_prolific, **otel.hooks(tracer)) as client, pa.orchestrate(
            client, plans, on_stage=otel.stage_spans(tracer)) as run:
        async for event in run:
            if event.kind is pa.EventKind.STARTED:
                break  # leaving the block cancels both plans mid-stage
    whole = [s for s in exporter.get_finished_spans() if s.name == "prolific plan"]
    assert len(whole) == 2
    for span in whole:
        assert (span.attributes or {})["prolific.outcome"] == "cancelled"
        assert span.status.status_code is StatusCode.UNSET and span.end_time is not None
    # Each span was made current and let go in the task that ran it.
    assert "Failed to detach context" not in caplog.text
