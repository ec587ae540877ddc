"""The quickstart, runnable offline: ``python -m prolific_async.quickstart``.

It starts the embedded fake Prolific server (its clock running 20 times faster than real time)
and drives a few batches through the whole AI Task Builder lifecycle at once: dataset, upload,
batch, instructions, setup, study, publish, responses and export. ``run_batch`` is the code
you would run against the real API (where publishing a study spends money).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import anyio

import prolific_async as pa
from prolific_async.testing import FakeClock, FakeProlific

# One page: the question, then a free-text reason (batch_items is the current way to lay out
# a batch; the /instructions endpoints are deprecated). pa.one_page builds the page -> row ->
# column nesting; see pa.BatchPage for layouts of several pages.
LAYOUT = pa.one_page([
    pa.MultipleChoice(
        description="Which response is more helpful?", answer_limit=1,
        options=[pa.Option(label="Response A", value="a"),
                 pa.Option(label="Response B", value="b")]),
    pa.FreeText(description="Why?"),
])


async def run_batch(client: pa.Prolific, workspace_id: str, number: int, folder: Path) -> Path:
    """One batch, end to end; returns the export ZIP."""
    data = folder / f"reviews-{number}.csv"
    rows = [f'"prompt {number}-{i}","response A {i}","response B {i}"' for i in range(6)]
    data.write_text("prompt,response_a,response_b\n" + "\n".join(rows) + "\n")

    ds = await client.datasets.create(name=f"reviews-{number}", workspace_id=workspace_id)
    await client.datasets.upload(ds.id, data)
    async for t in client.datasets.watch(ds.id):
        print(f"  dataset {number}: {t.previous or '-'} -> {t.current}")

    batch = await client.batches.create(
        name=f"reviews-{number}", workspace_id=workspace_id, dataset_id=ds.id,
        task_details=pa.TaskDetails(task_name="Compare two responses",
                                    task_introduction="<p>Read the prompt and both responses.</p>",
                                    task_steps="<ol><li>Read</li><li>Choose</li></ol>"),
        batch_items=LAYOUT)
    await client.batches.setup(batch.id, tasks_per_group=2)
    async for t in client.batches.watch(batch.id):
        print(f"  batch {number}: {t.previous or '-'} -> {t.current}")

    study = await client.studies.create(pa.StudyCreate(
        name=f"Compare responses {number}", description="Compare two AI responses.",
        data_collection_id=batch.id, reward=50, total_available_places=3,
        estimated_completion_time=3,
        data_collection_metadata=pa.DataCollectionMetadata(annotators_per_task=1)))
    await client.studies.publish(study.id)
    async for change in client.studies.watch(study.id):
        print(f"  study {number}: {change.previous or '-'} -> {change.current}")
    answers = [r async for r in client.batches.responses(batch.id)]
    path = await client.batches.export(batch.id, folder)
    print(f"  batch {number}: {len(answers)} answers, export {path.name}")
    return path


async def main(batches: int, folder: Path | None = None) -> None:
    folder = folder or Path(tempfile.mkdtemp(prefix="prolific-quickstart-"))
    async with FakeProlific(clock=FakeClock(speed=20)) as fake:
        async with pa.Prolific(fake.token, base_url=fake.url) as client:
            print(f"driving {batches} batches against the fake Prolific at {client.base_url}")
            async with anyio.create_task_group() as group:
                for number in range(1, batches + 1):
                    group.start_soon(run_batch, client, fake.workspace_id, number, folder)
    print(f"done: exports in {folder}")


def cli() -> None:
    parser = argparse.ArgumentParser(description="Run the prolific_async quickstart offline.")
    parser.add_argument("--batches", type=int, default=3)
    anyio.run(main, parser.parse_args().batches)


if __name__ == "__main__":
    cli()
