"""What does tracing a run cost? ``orchestrate`` with and without OpenTelemetry spans.

The same ``--plans`` plans (dataset to a draft study: seven stages run, nine skipped), run
against one fake server in its own process (so it shares no event loop or CPU clock with the
client), four ways:

- bare: no hook (what every run without ``on_stage`` does);
- hook: an ``on_stage`` hook that does nothing (the cost of the hook itself);
- stages: ``on_stage=otel.stage_spans(tracer)``: a span per plan and per stage;
- all: that and ``Prolific(**otel.hooks(tracer))``: a span per request attempt too.

The tracer is the OpenTelemetry SDK's, with a span processor that hands every ended span to an
exporter that drops it: what a real exporter costs is its own. Rounds alternate, rotating
which goes first, and each round's plans are new (a rerun would find the last round's). The
figure is client CPU (``time.process_time`` of this process), median of the rounds, and its
ratio to the bare run's in the same round.

    python benchmarks/stage_spans.py [--plans 100] [--rounds 7]

Needs the ``otel`` extra and ``opentelemetry-sdk``.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import statistics
import time
from collections.abc import Iterator, Sequence
from typing import Any

import anyio
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Tracer

import prolific_async as pa
from prolific_async import otel
from prolific_async.testing import FakeClock, FakeProlific

DETAILS = pa.TaskDetails(task_name="Rate", task_introduction="<p>Hi</p>",
                         task_steps="<ol><li>Rate</li></ol>")
#: Fast polling against a fake whose clock moves with each request.
POLL = pa.PollPolicy(initial=0.005, multiplier=1.5, ceiling=0.02, deadline=120)


class Dropped(SpanExporter):
    """Counts the spans it is handed, keeps none."""

    def __init__(self) -> None:
        self.count = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.count += len(spans)
        return SpanExportResult.SUCCESS


@contextlib.contextmanager
def nothing(run: pa.StageRun) -> Iterator[None]:
    yield


def serve(queue: Any, stop: Any) -> None:
    async def main() -> None:
        # Every request moves the clock 0.25 s: jobs finish as they are polled.
        async with FakeProlific(clock=FakeClock(speed=0, per_request=0.25),
                                record=False) as fake:
            queue.put((fake.url, fake.token, fake.workspace_id))
            await anyio.to_thread.run_sync(stop.wait)

    anyio.run(main)


async def run(url: str, token: str, workspace_id: str, tag: str, plans: int,
              tracer: Tracer | None, requests_too: bool, hook: bool) -> float:
    """Client CPU seconds of one run of ``plans`` new plans."""
    batch = [pa.BatchPlan(
        name=f"{tag}-{n}", workspace_id=workspace_id, dataset=[{"text": f"row {n}"}],
        task_details=DETAILS, instructions=[pa.FreeText(description="Label?")],
        study=pa.StudyPlan(description="Label", reward=100, places=2, estimated_minutes=5))
        for n in range(plans)]
    hooks: otel.RequestHooks = otel.hooks(tracer) if tracer and requests_too else {}
    on_stage = otel.stage_spans(tracer) if tracer else nothing if hook else None
    cpu = time.process_time()
    async with pa.Prolific(token, base_url=url, poll=POLL, **hooks) as client:
        async with pa.orchestrate(client, batch, concurrency=plans, on_stage=on_stage) as going:
            results = await going.wait()
    took = time.process_time() - cpu
    failed = [r for r in results if not r.ok]
    assert not failed, failed[0].error
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plans", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    exporter = Dropped()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("bench")
    ways: dict[str, tuple[Tracer | None, bool, bool]] = {
        "bare": (None, False, False), "hook": (None, False, True),
        "stages": (tracer, False, True), "all": (tracer, True, True)}

    queue: Any = multiprocessing.Queue()
    stop = multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(queue, stop), daemon=True)
    server.start()
    try:
        url, token, workspace_id = queue.get(timeout=30)
        names = list(ways)
        anyio.run(run, url, token, workspace_id, "warm", 20, tracer, True, True)
        cpu: dict[str, list[float]] = {name: [] for name in names}
        spans: dict[str, int] = {}
        for number in range(args.rounds):
            for name in names[number % len(names):] + names[:number % len(names)]:
                before = exporter.count
                cpu[name].append(anyio.run(run, url, token, workspace_id, f"r{number}-{name}",
                                           args.plans, *ways[name]))
                spans[name] = exporter.count - before
    finally:
        stop.set()
        server.join(timeout=10)

    print(f"{args.plans} plans to a draft study, {args.rounds} alternating rounds "
          "(client CPU, medians)")
    for name in names:
        ratios = sorted(t / b for t, b in zip(cpu[name], cpu["bare"], strict=True))
        print(f"  {name:7} {statistics.median(cpu[name]) * 1000 / args.plans:6.2f} ms a plan"
              f"  {spans[name] / args.plans:5.1f} spans a plan"
              f"  x{statistics.median(ratios):.2f} of bare (rounds {ratios[0]:.2f}"
              f"..{ratios[-1]:.2f})")


if __name__ == "__main__":
    main()
