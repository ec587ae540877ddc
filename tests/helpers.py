"""Small builders shared by the tests: they drive the SDK, never the fake's internals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web

import prolific_async as pa
from prolific_async.testing import FakeProlific

from .conftest import EXAMPLES

CSV = EXAMPLES / "cli-docs-examples" / "aitb-model-evaluation.csv"
DETAILS = pa.TaskDetails(task_name="Rate responses", task_introduction="<p>Hello</p>",
                         task_steps="<ol><li>Read</li><li>Rate</li></ol>")
QUESTIONS: list[pa.Instruction] = [
    pa.MultipleChoice(description="Which response is better?", answer_limit=1,
                      options=[pa.Option(label="A", value="a"), pa.Option(label="B", value="b")]),
    pa.FreeText(description="Why?"),
]


def write_csv(folder: Path, rows: int = 4, name: str = "data.csv") -> Path:
    path = folder / name
    lines = ["prompt,response"] + [f"prompt {i},response {i}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


async def ready_dataset(client: pa.Prolific, fake: FakeProlific, csv: Path = CSV,
                        name: str = "reviews") -> pa.Dataset:
    ds = await client.datasets.create(name=name, workspace_id=fake.workspace_id)
    await client.datasets.upload(ds.id, csv)
    fake.clock.advance(fake.world.dataset_processing)
    return await client.datasets.get(ds.id)


async def new_batch(client: pa.Prolific, fake: FakeProlific, dataset: pa.Dataset,
                    name: str = "batch-1") -> pa.Batch:
    batch = await client.batches.create(name=name, workspace_id=fake.workspace_id,
                                        dataset_id=dataset.id, task_details=DETAILS)
    await client.instructions.create(batch.id, QUESTIONS)
    return batch


async def ready_batch(client: pa.Prolific, fake: FakeProlific, name: str = "batch-1") -> pa.Batch:
    dataset = await ready_dataset(client, fake)
    batch = await new_batch(client, fake, dataset, name)
    await client.batches.setup(batch.id, tasks_per_group=1)
    fake.clock.advance(fake.world.batch_setup)
    return await client.batches.get(batch.id)


async def published_study(client: pa.Prolific, fake: FakeProlific, batch: pa.Batch,
                          places: int = 3) -> pa.Study:
    study = await client.studies.create(pa.StudyCreate(
        name="Rate", description="Rate two responses", data_collection_id=batch.id,
        reward=100, total_available_places=places, estimated_completion_time=5,
        data_collection_metadata=pa.DataCollectionMetadata(annotators_per_task=1)))
    return await client.studies.publish(study.id)


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """``app`` served on a free loopback port (a webhook receiver, say); yields its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()
