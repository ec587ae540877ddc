"""The fake's export archives, in the documented layout with every response value shape, and
its storage downloads: ranges, resuming a cut download, and large padded archives."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import prolific_async as pa
from prolific_async._converter import converter
from prolific_async.testing import FakeClock, FakeProlific

from .conftest import example
from .helpers import DETAILS, ready_dataset, write_csv

pytestmark = pytest.mark.anyio

SHAPES = {  # the documented value fields of each instruction type
    "free_text": {"value"},
    "free_text_with_unit": {"value", "unit"},
    "multiple_choice": {"values"},
    "multiple_choice_with_free_text": {"values"},
    "file_upload": {"files"},
}


async def all_types_batch(client: pa.Prolific, fake: FakeProlific, places: int,
                          folder: Path) -> pa.Batch:
    """A READY batch asking every instruction type (the CLI's example instructions), with a
    study whose ``places`` submissions have all come in."""
    dataset = await ready_dataset(client, fake, write_csv(folder, rows=4))
    batch = await client.batches.create(name="all-types", workspace_id=fake.workspace_id,
                                        dataset_id=dataset.id, task_details=DETAILS)
    instructions = example("cli-docs-examples/batch-instructions.json")
    headers = {"Authorization": f"Token {fake.token}"}
    async with aiohttp.ClientSession(fake.url, headers=headers) as session, session.post(
            f"/api/v1/data-collection/batches/{batch.id}/instructions",
            json={"instructions": instructions}) as resp:
        assert resp.status == 201
    await client.batches.setup(batch.id, tasks_per_group=2)
    fake.clock.advance(fake.world.batch_setup)
    await publish(client, batch.id, places)
    fake.clock.advance(places * fake.world.submission_interval)
    return batch


async def publish(client: pa.Prolific, owner_id: str, places: int,
                  method: pa.DataCollectionMethod = pa.DataCollectionMethod.AI_TASK_BUILDER_BATCH,
                  ) -> pa.Study:
    study = await client.studies.create(pa.StudyCreate(
        name="S", description="d", data_collection_id=owner_id, data_collection_method=method,
        reward=100, total_available_places=places, estimated_completion_time=5))
    return await client.studies.publish(study.id)


def check_answer(answer: dict[str, Any], names: set[str]) -> None:
    kind = answer["type"]
    assert set(answer) == {"type", "description"} | SHAPES[kind]
    if kind == "multiple_choice":
        assert answer["values"] and all(isinstance(v, str) for v in answer["values"])
    elif kind == "multiple_choice_with_free_text":
        assert all(set(v) == {"option", "explanation"} for v in answer["values"])
    elif kind == "file_upload":
        assert answer["files"]
        for upload in answer["files"]:
            assert set(upload) == {"name", "path"} and upload["path"] in names
    else:
        assert isinstance(answer["value"], str)
        if kind == "free_text_with_unit":
            assert isinstance(answer["unit"], str)


async def test_batch_archive_has_the_documented_layout(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific, tmp_path: Path,
) -> None:
    batch = await all_types_batch(prolific_client, fake_prolific, 3, tmp_path)
    fake_prolific.clock.per_request = 0.25  # the export finishes as it is polled
    path = await prolific_client.batches.export(batch.id, tmp_path)
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        files = {n for n in names if n.startswith("files/")}
        assert names - files == {"responses-by-submission.jsonl", "responses-by-task.jsonl",
                                 "batch.json", "README.md"}
        meta = json.loads(archive.read("batch.json"))
        by_submission = [json.loads(line) for line in
                         archive.read("responses-by-submission.jsonl").splitlines()]
        by_task = [json.loads(line) for line in
                   archive.read("responses-by-task.jsonl").splitlines()]
        assert all(archive.read(name) for name in files)

    assert set(meta) == {"batch_id", "name", "exported_at", "instructions"}
    assert meta["batch_id"] == batch.id and meta["name"] == "all-types"
    kinds = {i["id"]: i["type"] for i in meta["instructions"]}
    assert set(kinds.values()) == set(SHAPES)

    assert len(by_submission) == 3
    seen_kinds = set()
    for record in by_submission:
        assert set(record) == {"submission_id", "participant_id", "batch_id", "created_at",
                               "responses"}
        assert len(record["responses"]) == 2  # two tasks per group
        for answers in record["responses"].values():
            assert set(answers) == set(kinds)
            for instruction_id, answer in answers.items():
                assert answer["type"] == kinds[instruction_id]
                check_answer(answer, names)
                seen_kinds.add(answer["type"])
                for upload in answer.get("files", []):
                    assert upload["path"].startswith(
                        f"files/{record['submission_id']}_{instruction_id}_")
    assert seen_kinds == set(SHAPES)
    # The CLI example asks for 2 to 5 photos and lets several options be chosen.
    uploads = [a for r in by_submission for t in r["responses"].values() for a in t.values()
               if a["type"] == "file_upload"]
    assert all(2 <= len(a["files"]) <= 5 for a in uploads)

    tasks = {task_id for r in by_submission for task_id in r["responses"]}
    assert {t["task_id"] for t in by_task} == tasks
    for task in by_task:
        assert task["batch_id"] == batch.id
        for row in task["responses"]:
            assert {"submission_id", "participant_id", "created_at"} <= set(row)
            assert set(row) - {"submission_id", "participant_id", "created_at"} == set(kinds)


async def test_collection_archive_has_its_own_layout(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific, tmp_path: Path,
) -> None:
    body = example("cli-docs-examples/collection.json")
    collection = await prolific_client.collections.create(
        name=body["name"], workspace_id=fake_prolific.workspace_id,
        task_details=converter.structure(body["task_details"], pa.TaskDetails),
        collection_items=converter.structure(body["collection_items"], list[pa.CollectionPage]))
    await publish(prolific_client, collection.id, 2,
                  pa.DataCollectionMethod.AI_TASK_BUILDER_COLLECTION)
    fake_prolific.clock.advance(2 * fake_prolific.world.submission_interval)
    fake_prolific.clock.per_request = 0.25
    path = await prolific_client.collections.export(collection.id, tmp_path)
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        files = {n for n in names if n.startswith("files/")}
        assert files and names - files == {"responses.jsonl", "collection.json", "README.md"}
        meta = json.loads(archive.read("collection.json"))
        records = [json.loads(line) for line in archive.read("responses.jsonl").splitlines()]
    assert meta["collection_id"] == collection.id
    assert {i["type"] for i in meta["instructions"]} == {
        "free_text", "multiple_choice", "free_text_with_unit", "file_upload"}
    assert len(records) == 2
    for record in records:
        assert record["collection_id"] == collection.id
        for answers in record["responses"].values():
            for answer in answers.values():
                check_answer(answer, names)


async def complete_export(client: pa.Prolific, fake: FakeProlific) -> str:
    """The presigned URL of a complete export of a small batch."""
    dataset = await ready_dataset(client, fake)
    batch = await client.batches.create(name="b", workspace_id=fake.workspace_id,
                                        dataset_id=dataset.id, task_details=DETAILS,
                                        batch_items=[])
    job = await client.batches.request_export(batch.id)
    fake.clock.advance(fake.world.export_generating)
    done = await client.batches.export_status(batch.id, job.export_id)
    assert done.url is not None
    return done.url


async def test_downloads_honour_ranges(prolific_client: pa.Prolific,
                                       fake_prolific: FakeProlific) -> None:
    url = await complete_export(prolific_client, fake_prolific)
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as resp:
            whole = await resp.read()
            assert resp.headers["Accept-Ranges"] == "bytes" and resp.headers["ETag"]
        size = len(whole)
        for header, (start, stop) in {"bytes=10-19": (10, 20), "bytes=-5": (size - 5, size),
                                      f"bytes={size - 3}-": (size - 3, size),
                                      f"bytes=0-{size + 100}": (0, size)}.items():
            async with session.get(url, headers={"Range": header}) as resp:
                assert resp.status == 206, header
                assert resp.headers["Content-Range"] == f"bytes {start}-{stop - 1}/{size}"
                assert await resp.read() == whole[start:stop]
        async with session.get(url, headers={"Range": f"bytes={size}-"}) as resp:
            assert resp.status == 416 and resp.headers["Content-Range"] == f"bytes */{size}"


async def test_a_cut_download_resumes_with_a_range(prolific_client: pa.Prolific,
                                                   fake_prolific: FakeProlific) -> None:
    url = await complete_export(prolific_client, fake_prolific)
    fake_prolific.inject(method="GET", path="/exports/*", truncate_after=200, times=1)
    received = bytearray()
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientPayloadError):
            async with session.get(url) as resp:
                async for chunk in resp.content.iter_any():
                    received += chunk
        assert len(received) == 200
        async with session.get(url, headers={"Range": "bytes=200-"}) as resp:
            assert resp.status == 206
            received += await resp.read()
    with zipfile.ZipFile(io.BytesIO(bytes(received))) as archive:
        assert archive.testzip() is None
        assert "batch.json" in archive.namelist()


async def test_padding_makes_a_large_valid_archive(tmp_path: Path) -> None:
    padding = 3 * (1 << 20) + 12345
    async with FakeProlific(clock=FakeClock(speed=0), export_padding_bytes=padding) as fake:
        async with pa.Prolific(fake.token, base_url=fake.url) as client:
            url = await complete_export(client, fake)
            async with aiohttp.ClientSession() as session, session.get(url) as resp:
                data = await resp.read()
                assert resp.content_length == len(data) > padding
                async with session.get(url, headers={"Range": "bytes=-100"}) as tail:
                    assert await tail.read() == data[-100:]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None  # every CRC checks out
        assert archive.getinfo("padding.bin").file_size == padding
        assert {"batch.json", "responses-by-task.jsonl"} <= set(archive.namelist())


def test_padding_is_capped_below_zip64() -> None:
    with pytest.raises(ValueError, match="padding"):
        FakeProlific(export_padding_bytes=1 << 32)


async def test_an_export_filtered_by_study_holds_only_its_submissions(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific, tmp_path: Path,
) -> None:
    batch = await all_types_batch(prolific_client, fake_prolific, 2, tmp_path)
    other = await publish(prolific_client, batch.id, 3)
    fake_prolific.clock.advance(3 * fake_prolific.world.submission_interval)
    fake_prolific.clock.per_request = 0.25
    path = await prolific_client.batches.export(batch.id, tmp_path, study_id=other.id)
    with zipfile.ZipFile(path) as archive:
        records = archive.read("responses-by-submission.jsonl").splitlines()
    assert len(records) == 3
    assert all(json.loads(r)["submission_id"].startswith(f"sub-{other.id[:8]}")
               for r in records)
