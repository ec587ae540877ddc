"""A web backend that runs batches and streams their progress to a browser, live.

``POST /runs`` with a JSON body ``{"batches": [{"name": ..., "rows": [{...}, ...]}, ...]}``
runs one plan per batch with `pa.orchestrate` and answers with server-sent events: one
``event: stage`` per `pa.PipelineEvent` as it happens, then one ``event: done`` with each
plan's result. A browser reads them with ``new EventSource(...)`` (or ``fetch`` for a POST).

The app holds one `pa.Prolific` client for its lifetime (opened in ``cleanup_ctx``), shared by
every request, so all runs share one connection pool, one retry budget and one poll-rate cap.
A run lives as long as its stream: a client that disconnects cancels its run (nothing is
cancelled on Prolific); with ``JOURNAL`` set, sending the same batches again resumes it.

Run it against the fake (no token, no money)::

    $ prolific-async fake-server > fake.env & sleep 1; . ./fake.env
    $ python examples/sse_backend.py            # serves on http://127.0.0.1:8080
    $ curl -N localhost:8080/runs -d '{"batches": [{"name": "b1", "rows": [{"text": "hi"}]}]}'

Against Prolific, set ``PROLIFIC_TOKEN`` and ``PROLIFIC_WORKSPACE`` instead. The example
creates studies but never publishes them: publishing spends money.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Mapping
from typing import Any

from aiohttp import web

import prolific_async as pa

CLIENT = web.AppKey("client", pa.Prolific)
WORKSPACE = web.AppKey("workspace", str)
JOURNAL = os.environ.get("JOURNAL")  # a SQLite path: reruns of the same batches resume

DETAILS = pa.TaskDetails(task_name="Label the text", task_introduction="<p>Read the text.</p>",
                         task_steps="<ol><li>Choose a label</li></ol>")
QUESTION = pa.MultipleChoice(description="Is the text positive?", answer_limit=1,
                             options=[pa.Option(label="Yes", value="yes"),
                                      pa.Option(label="No", value="no")])


def plans_from(body: Any, workspace_id: str) -> list[pa.BatchPlan]:
    """The plans a request asks for; a bad body is a ValueError saying what is wrong."""
    batches = body.get("batches") if isinstance(body, Mapping) else None
    if not isinstance(batches, list) or not batches or len(batches) > 100:
        raise ValueError('the body must be {"batches": [...]} with 1 to 100 batches')
    plans = []
    for index, batch in enumerate(batches):
        if not isinstance(batch, Mapping) or not isinstance(batch.get("name"), str):
            raise ValueError(f"batches[{index}] must be an object with a name and rows")
        try:
            plans.append(pa.BatchPlan(
                name=batch["name"], workspace_id=workspace_id, dataset=batch.get("rows"),
                task_details=DETAILS, instructions=[QUESTION],
                study=pa.StudyPlan(description="Label short texts", reward=20, places=1,
                                   estimated_minutes=1)))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"batches[{index}]: {exc}") from None
    return plans


def event_data(event: pa.PipelineEvent) -> dict[str, Any]:
    """A pipeline event as the JSON a browser gets."""
    data: dict[str, Any] = {"plan": event.plan, "stage": str(event.stage),
                            "kind": str(event.kind), "elapsed": round(event.elapsed, 3)}
    if event.transition is not None:
        data["status"] = str(event.transition.current)
    if event.error is not None:
        data["error"] = str(event.error)
    return data


def result_data(result: pa.PlanResult) -> dict[str, Any]:
    return {"plan": result.plan, "ok": result.ok, "batch_id": result.batch_id,
            "study_id": result.study_id, "error": None if result.ok else str(result.error)}


async def send(response: web.StreamResponse, event: str, data: object) -> None:
    await response.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())


async def start_run(request: web.Request) -> web.StreamResponse:
    try:
        body = await request.json()
        plans = plans_from(body, request.app[WORKSPACE])
    except ValueError as exc:  # json.JSONDecodeError is a ValueError too
        raise web.HTTPBadRequest(text=str(exc)) from None
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-cache"})
    await response.prepare(request)
    async with pa.orchestrate(request.app[CLIENT], plans, journal=JOURNAL) as run:
        async for event in run:
            await send(response, "stage", event_data(event))
    await send(response, "done", [result_data(r) for r in run.results])
    return response


async def prolific_client(app: web.Application) -> AsyncIterator[None]:
    """One client for the app's whole life (``cleanup_ctx``)."""
    async with app[CLIENT]:
        yield


def make_app(client: pa.Prolific, workspace_id: str) -> web.Application:
    """The app; ``client`` is opened and closed with it."""
    app = web.Application(client_max_size=1024 * 1024)  # request bodies are bounded
    app[CLIENT] = client
    app[WORKSPACE] = workspace_id
    app.cleanup_ctx.append(prolific_client)
    app.router.add_post("/runs", start_run)
    return app


if __name__ == "__main__":
    web.run_app(make_app(pa.Prolific(), os.environ["PROLIFIC_WORKSPACE"]),
                host="127.0.0.1", port=int(os.environ.get("PORT", "8080")))
