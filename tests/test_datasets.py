"""``client.datasets`` against the fake, over loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import prolific_async as pa
from prolific_async.testing import FakeProlific

from .conftest import example
from .helpers import CSV, write_csv

pytestmark = pytest.mark.anyio


async def test_create_sends_the_documented_body(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific
) -> None:
    body = example("docs-examples/dataset_create_v3_request.json")
    ds = await prolific_client.datasets.create(name=body["name"],
                                               workspace_id=fake_prolific.workspace_id)
    assert ds.status is pa.DatasetStatus.UNINITIALISED and ds.name == body["name"]
    [sent] = fake_prolific.requests_to("POST", "*/datasets")
    assert sent.json == {**body, "workspace_id": fake_prolific.workspace_id}


async def test_create_rejects_empty_name(prolific_client: pa.Prolific,
                                         fake_prolific: FakeProlific) -> None:
    with pytest.raises(ValueError, match="name"):
        await prolific_client.datasets.create(name=" ", workspace_id=fake_prolific.workspace_id)
    assert fake_prolific.requests == []


async def test_unknown_workspace(prolific_client: pa.Prolific) -> None:
    with pytest.raises(pa.NotFoundError, match="workspace not found"):
        await prolific_client.datasets.create(name="d", workspace_id="nope")


async def test_upload_then_ready(prolific_client: pa.Prolific, fake_prolific: FakeProlific,
                                 tmp_path: Path) -> None:
    client = prolific_client
    ds = await client.datasets.create(name="d", workspace_id=fake_prolific.workspace_id)
    csv = write_csv(tmp_path, rows=5)
    target = await client.datasets.upload(ds.id, csv)
    assert target.http_method == "PUT"
    assert await client.datasets.status(ds.id) is pa.DatasetStatus.PROCESSING
    fake_prolific.clock.advance(fake_prolific.world.dataset_processing)
    assert await client.datasets.status(ds.id) is pa.DatasetStatus.READY
    got = await client.datasets.get(ds.id)
    assert got.total_datapoint_count == 5

    [put] = fake_prolific.requests_to("PUT")
    assert put.server == "storage"
    assert "Authorization" not in put.headers
    assert fake_prolific.token not in str(put.headers)
    assert put.headers["Content-Type"] == "text/csv"
    assert int(put.headers["Content-Length"]) == csv.stat().st_size
    [url_call] = fake_prolific.requests_to("GET", "*/upload-url/*")
    assert url_call.path.endswith(f"/datasets/{ds.id}/upload-url/data.csv")


async def test_storage_rejects_a_token(prolific_client: pa.Prolific,
                                       fake_prolific: FakeProlific) -> None:
    """The fake's storage behaves like S3, so the test above means something."""
    ds = await prolific_client.datasets.create(name="d", workspace_id=fake_prolific.workspace_id)
    target = await prolific_client.datasets.upload_url(ds.id, "data.csv")
    transport = prolific_client._context.transport
    async with transport.session.put(target.upload_url, data=b"a,b\n1,2\n",
                                     headers={"Authorization": "Token x"}) as resp:
        assert resp.status == 400
        assert "Only one auth mechanism" in await resp.text()


async def test_malformed_file_ends_in_error(prolific_client: pa.Prolific,
                                           fake_prolific: FakeProlific, tmp_path: Path) -> None:
    ds = await prolific_client.datasets.create(name="d", workspace_id=fake_prolific.workspace_id)
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2,3,4\n")
    await prolific_client.datasets.upload(ds.id, path)
    fake_prolific.clock.advance(fake_prolific.world.dataset_processing)
    assert await prolific_client.datasets.status(ds.id) is pa.DatasetStatus.ERROR


@pytest.mark.parametrize(("name", "make", "error", "message"), [
    ("empty.csv", lambda p: p.write_text(""), ValueError, "the file is empty"),
    ("data", lambda p: p.mkdir(), IsADirectoryError, "it is a directory; give a file"),
    ("notes.txt", lambda p: p.write_text("hello"), ValueError,
     r"datasets take \.csv or \.zip \(V3\) and \.csv or \.jsonl \(V4\) files"),
])
async def test_bad_paths_are_refused_before_sending(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific, tmp_path: Path, name: str,
    make: Any, error: type[Exception], message: str,
) -> None:
    make(tmp_path / name)
    with pytest.raises(error, match=message):
        await prolific_client.datasets.upload("ds-1", tmp_path / name)
    assert fake_prolific.requests == []


async def test_missing_file_sends_nothing(prolific_client: pa.Prolific,
                                          fake_prolific: FakeProlific, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.csv"):
        await prolific_client.datasets.upload("ds-1", tmp_path / "nope.csv")
    assert fake_prolific.requests == []


async def test_upload_is_streamed_not_read_whole(prolific_client: pa.Prolific,
                                                 fake_prolific: FakeProlific,
                                                 tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    with big.open("w") as out:
        out.write("prompt,response\n")
        for i in range(200_000):
            out.write(f"prompt number {i},a response of moderate length {i}\n")
    ds = await prolific_client.datasets.create(name="d", workspace_id=fake_prolific.workspace_id)
    await prolific_client.datasets.upload(ds.id, big)
    [put] = fake_prolific.requests_to("PUT")
    assert put.body_size == big.stat().st_size > 8_000_000
    fake_prolific.clock.advance(fake_prolific.world.dataset_processing)
    assert (await prolific_client.datasets.get(ds.id)).total_datapoint_count == 200_000


async def test_v4_dataset_import(prolific_client: pa.Prolific, fake_prolific: FakeProlific,
                                 tmp_path: Path) -> None:
    schema = pa.DatasetSchema(fields={"prompt": pa.SchemaField(type="text", label="Prompt")},
                              strict=True)
    ds = await prolific_client.datasets.create(name="v4", workspace_id=fake_prolific.workspace_id,
                                               schema=schema)
    data = tmp_path / "rows.jsonl"
    data.write_text('{"prompt": "a"}\n{"prompt": "b"}\n')
    target = await prolific_client.datasets.upload(ds.id, data)
    assert target.import_id is not None
    assert target.content_type == "application/x-ndjson"
    job = await prolific_client.datasets.import_status(ds.id, target.import_id)
    assert job.status is pa.ImportStatus.QUEUED
    fake_prolific.clock.advance(fake_prolific.world.dataset_processing)
    job = await prolific_client.datasets.import_status(ds.id, target.import_id)
    assert job.status is pa.ImportStatus.COMPLETE and job.accepted_count == 2
    got = await prolific_client.datasets.get(ds.id)
    assert got.schema == schema
    assert got.imports is not None and got.imports[0].import_id == target.import_id


async def test_watch_dataset(prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    ds = await prolific_client.datasets.create(name="d", workspace_id=fake_prolific.workspace_id)
    await prolific_client.datasets.upload(ds.id, CSV)
    seen = []
    async for t in prolific_client.datasets.watch(ds.id):
        seen.append((t.previous, t.current))
        fake_prolific.clock.advance(fake_prolific.world.dataset_processing)
    assert seen == [(None, "PROCESSING"), ("PROCESSING", "READY")]


async def test_unknown_dataset(prolific_client: pa.Prolific) -> None:
    with pytest.raises(pa.NotFoundError, match="dataset not found"):
        await prolific_client.datasets.get("0192a3b5-e8f9-7a0b-1c2d-3e4f5a6b7c8d")
