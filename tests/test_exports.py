"""Exports for batches and collections: both contracts, atomic downloads, URL refresh."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

import prolific_async as pa
from prolific_async.testing import FakeClock, FakeProlific

from .helpers import DETAILS, published_study, ready_batch

pytestmark = pytest.mark.anyio


def read_zip(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


async def test_export_202_contract(prolific_client: pa.Prolific, fake_prolific: FakeProlific,
                                   tmp_path: Path) -> None:
    batch = await ready_batch(prolific_client, fake_prolific)
    await published_study(prolific_client, fake_prolific, batch, places=2)
    fake_prolific.clock.advance(10)
    job = await prolific_client.batches.request_export(batch.id)
    assert job.status is pa.ExportStatus.GENERATING and job.export_id
    again = await prolific_client.batches.request_export(batch.id)
    assert again.export_id == job.export_id  # joins the job still generating
    fake_prolific.clock.advance(fake_prolific.world.export_generating)
    done = await prolific_client.batches.export_status(batch.id, job.export_id)
    assert done.status is pa.ExportStatus.COMPLETE and done.url and done.expires_at

    # A completed job is never reused under this contract: export() starts a new one, which
    # the clock finishes as it is polled.
    fake_prolific.clock.per_request = 0.25
    path = await prolific_client.batches.export(batch.id, tmp_path)
    assert path.parent == tmp_path and path.suffix == ".zip"
    files = read_zip(path)
    assert {"responses-by-submission.jsonl", "responses-by-task.jsonl", "batch.json",
            "README.md"} <= set(files)
    subs = [json.loads(line) for line in files["responses-by-submission.jsonl"].splitlines()]
    assert len(subs) == 2 and all(s["batch_id"] == batch.id for s in subs)
    assert json.loads(files["batch.json"])["batch_id"] == batch.id
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


async def test_download_a_followed_export_without_asking_for_another(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific, tmp_path: Path,
) -> None:
    batch = await ready_batch(prolific_client, fake_prolific)
    job = await prolific_client.batches.request_export(batch.id)
    assert job.export_id is not None
    with pytest.raises(pa.NotDownloadableError, match="not complete: wait for it first"):
        await prolific_client.batches.download_export(batch.id, job.export_id, tmp_path)
    fake_prolific.clock.advance(fake_prolific.world.export_generating)
    done = await prolific_client.batches.wait_export(batch.id, job.export_id)
    by_job = await prolific_client.batches.download_export(batch.id, done, tmp_path / "a.zip")
    by_id = await prolific_client.batches.download_export(batch.id, job.export_id,
                                                          tmp_path / "b.zip")
    assert read_zip(by_job) == read_zip(by_id)
    assert len(fake_prolific.requests_to("POST", "*/export")) == 1


async def test_export_200_contract(tmp_path: Path) -> None:
    async with FakeProlific(clock=FakeClock(speed=0), export_contract="200") as fake:
        async with pa.Prolific(fake.token, base_url=fake.url) as client:
            batch = await ready_batch(client, fake)
            first = await client.batches.request_export(batch.id)
            assert first.status is pa.ExportStatus.GENERATING
            fake.clock.advance(fake.world.export_generating)
            cached = await client.batches.request_export(batch.id)
            assert cached.status is pa.ExportStatus.COMPLETE
            assert cached.export_id is None and cached.url is not None
            path = await client.batches.export(batch.id, tmp_path / "out.zip")
            assert path == tmp_path / "out.zip"
            assert "batch.json" in read_zip(path)
            # The complete answer went straight to the download: no status polls.
            assert fake.requests_to("GET", "*/export/*") == []


async def test_failed_export_raises_with_the_remedy(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific, tmp_path: Path
) -> None:
    batch = await ready_batch(prolific_client, fake_prolific)
    job = await prolific_client.batches.request_export(batch.id)
    assert job.export_id is not None
    fake_prolific.fail_export(batch.id, job.export_id)
    fake_prolific.clock.advance(fake_prolific.world.export_generating)
    with pytest.raises(pa.ResourceFailed, match="request a new export") as caught:
        await prolific_client.batches.wait_export(batch.id, job.export_id)
    assert caught.value.snapshot.status is pa.ExportStatus.FAILED
    assert list(tmp_path.iterdir()) == []


async def test_url_rejected_as_expired_is_refreshed(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific, tmp_path: Path
) -> None:
    batch = await ready_batch(prolific_client, fake_prolific)
    fake_prolific.clock.per_request = 0.5
    fake_prolific.inject(method="GET", path="/exports/*", status=403, times=1,
                         body="<Error><Code>AccessDenied</Code></Error>")
    path = await prolific_client.batches.export(batch.id, tmp_path)
    assert "batch.json" in read_zip(path)
    first, second = fake_prolific.requests_to("GET", "/exports/*")
    assert first.query["X-Amz-Signature"] != second.query["X-Amz-Signature"]
    assert list(tmp_path.iterdir()) == [path]


async def test_url_close_to_expiry_is_refreshed_first(tmp_path: Path) -> None:
    async with FakeProlific(clock=FakeClock(speed=0, per_request=0.5), url_ttl=5) as fake:
        async with pa.Prolific(fake.token, base_url=fake.url,
                               poll=pa.PollPolicy(initial=0.01, ceiling=0.02)) as client:
            batch = await ready_batch(client, fake)
            path = await client.batches.export(batch.id, tmp_path)
            assert "batch.json" in read_zip(path)
    # The URL from the last poll expires within the safety margin: one more status poll
    # fetched a fresh one, and the download used it at once.
    polls = fake.requests_to("GET", "*/export/*")
    assert len(polls) >= 2
    [download] = fake.requests_to("GET", "/exports/*")
    assert download.at >= polls[-1].at


async def test_export_filters_are_sent_as_query(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific
) -> None:
    from datetime import datetime, timezone

    batch = await ready_batch(prolific_client, fake_prolific)
    since = datetime(2026, 3, 1, tzinfo=timezone.utc)
    job = await prolific_client.batches.request_export(batch.id, study_id="study-1", from_=since)
    [sent] = fake_prolific.requests_to("POST", "*/export")
    assert sent.query == {"study_id": "study-1", "from": "2026-03-01T00:00:00+00:00"}
    [listed] = await prolific_client.batches.list_exports(batch.id)
    assert listed.export_id == job.export_id
    assert listed.filter == {"study_id": "study-1", "from": "2026-03-01T00:00:00+00:00"}
    with pytest.raises(ValueError, match="study_id"):
        await prolific_client.batches.request_export(batch.id, study_id="../x")


async def test_list_and_delete_exports(prolific_client: pa.Prolific,
                                       fake_prolific: FakeProlific) -> None:
    batch = await ready_batch(prolific_client, fake_prolific)
    job = await prolific_client.batches.request_export(batch.id)
    assert job.export_id is not None
    with pytest.raises(pa.ConflictError, match="still generating"):
        await prolific_client.batches.delete_export(batch.id, job.export_id)
    fake_prolific.clock.advance(fake_prolific.world.export_generating)
    [listed] = await prolific_client.batches.list_exports(batch.id)
    assert listed.export_id == job.export_id and listed.status is pa.ExportStatus.COMPLETE
    await prolific_client.batches.delete_export(batch.id, job.export_id)
    assert await prolific_client.batches.list_exports(batch.id) == []
    with pytest.raises(pa.NotFoundError):
        await prolific_client.batches.export_status(batch.id, job.export_id)


async def test_download_failure_leaves_nothing(prolific_client: pa.Prolific,
                                               fake_prolific: FakeProlific,
                                               tmp_path: Path) -> None:
    batch = await ready_batch(prolific_client, fake_prolific)
    fake_prolific.clock.per_request = 0.5
    fake_prolific.inject(method="GET", path="/exports/*", status=404, body="<Error/>")
    with pytest.raises(pa.StorageError, match="404"):
        await prolific_client.batches.export(batch.id, tmp_path)
    assert list(tmp_path.iterdir()) == []


async def test_collection_export(prolific_client: pa.Prolific, fake_prolific: FakeProlific,
                                 tmp_path: Path) -> None:
    col = await prolific_client.collections.create(
        name="c", workspace_id=fake_prolific.workspace_id, task_details=DETAILS,
        collection_items=[pa.CollectionPage(order=0, page_items=[
            pa.FreeText(order=0, description="Anything to add?")])])
    study = await prolific_client.studies.create(pa.StudyCreate(
        name="s", description="d", data_collection_id=col.id, total_available_places=2,
        reward=100, estimated_completion_time=5,
        data_collection_method=pa.DataCollectionMethod.AI_TASK_BUILDER_COLLECTION))
    await prolific_client.studies.publish(study.id)
    fake_prolific.clock.advance(5)
    fake_prolific.clock.per_request = 0.5
    path = await prolific_client.collections.export(col.id, tmp_path)
    files = read_zip(path)
    assert {"responses.jsonl", "collection.json", "README.md"} <= set(files)
    assert len(files["responses.jsonl"].splitlines()) == 2
    [listed] = await prolific_client.collections.list_exports(col.id)
    assert listed.status is pa.ExportStatus.COMPLETE
