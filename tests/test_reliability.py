"""The promises the soak test leans on, each pinned on its own: an upload is never repeated
unseen, an export already asked for is downloaded without asking again, and `orchestrate`
settles a create that failed with a 5xx, or an upload whose answer was lost, by looking."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

import prolific_async as pa
from prolific_async.testing import FakeProlific

from .helpers import published_study, ready_batch, write_csv
from .orchestration import batches_named, client_for, plan, publishes_of, studies_of

pytestmark = pytest.mark.anyio


async def test_an_upload_whose_answer_was_lost_is_not_sent_again(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific, tmp_path: Path,
) -> None:
    ds = await prolific_client.datasets.create(name="d", workspace_id=fake_prolific.workspace_id)
    fake_prolific.inject(method="PUT", lose_answer=True, times=1)
    with pytest.raises(pa.OutcomeUnknownError, match="storage may have kept the file") as caught:
        await prolific_client.datasets.upload(ds.id, write_csv(tmp_path, rows=4))
    assert caught.value.request.method == "PUT" and "?" not in caught.value.request.url
    # One PUT, not two: neither the SDK nor aiohttp (which silently resends an idempotent
    # request after a cut connection when it can rewind the body) sent it again...
    assert len(fake_prolific.requests_to("PUT")) == 1
    # ...so the rows are in once, and looking at the dataset says the upload landed.
    assert len(fake_prolific.world.datasets[ds.id].rows) == 4
    assert await prolific_client.datasets.status(ds.id) is pa.DatasetStatus.PROCESSING


async def test_an_upload_cut_before_storage_kept_it_looks_unstarted(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific, tmp_path: Path,
) -> None:
    ds = await prolific_client.datasets.create(name="d", workspace_id=fake_prolific.workspace_id)
    fake_prolific.inject(method="PUT", drop=True, times=1)
    with pytest.raises(pa.OutcomeUnknownError):
        await prolific_client.datasets.upload(ds.id, write_csv(tmp_path))
    assert await prolific_client.datasets.status(ds.id) is pa.DatasetStatus.UNINITIALISED


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_an_upload_refused_by_storage_is_sent_again(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific, tmp_path: Path, status: int,
) -> None:
    ds = await prolific_client.datasets.create(name="d", workspace_id=fake_prolific.workspace_id)
    fake_prolific.inject(method="PUT", status=status, body="<Error/>", times=1)
    await prolific_client.datasets.upload(ds.id, write_csv(tmp_path, rows=4))
    first, second = fake_prolific.requests_to("PUT")
    assert first.body_size == second.body_size == write_csv(tmp_path, rows=4).stat().st_size
    assert len(fake_prolific.world.datasets[ds.id].rows) == 4


async def test_an_export_whose_url_expired_is_downloaded_without_asking_again(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific, tmp_path: Path,
) -> None:
    batch = await ready_batch(prolific_client, fake_prolific)
    await published_study(prolific_client, fake_prolific, batch, places=2)
    fake_prolific.clock.advance(5)
    job = await prolific_client.batches.request_export(batch.id)
    assert job.export_id is not None
    fake_prolific.clock.advance(fake_prolific.world.export_generating)
    # The URL the job gave has expired by the time the download starts: asked for again.
    fake_prolific.clock.advance(fake_prolific.world.url_ttl + 1)
    path = await prolific_client.batches.download_export(batch.id, job.export_id, tmp_path)
    with zipfile.ZipFile(path) as archive:
        assert len(archive.read("responses-by-submission.jsonl").splitlines()) == 2
    assert len(fake_prolific.world.exports_for(batch.id)) == 1
    assert len(fake_prolific.requests_to("POST", "*/export")) == 1
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    assert path.name.startswith(f"{batch.id}-export-") and path.suffix == ".zip"


async def run_plans(fake: FakeProlific, plans: list[pa.BatchPlan]) -> list[pa.PlanResult]:
    async with client_for(fake) as client:
        async with pa.orchestrate(client, plans) as run:
            return await run.wait()


@pytest.mark.parametrize("path", ["*/data-collection/datasets", "*/data-collection/batches",
                                  "/api/v1/studies/", "/api/v1/studies/*/transition/"],
                         ids=["dataset", "batch", "study", "publish"])
async def test_a_create_answered_503_is_settled_by_looking(fake_prolific: FakeProlific,
                                                          tmp_path: Path, path: str) -> None:
    # The transport does not repeat a create after a 5xx (a gateway may have passed it on);
    # the pipeline looks for what it may have made, then creates.
    fake_prolific.clock.per_request = 0.25
    fake_prolific.inject(method="POST", path=path, status=503, times=2)
    [result] = await run_plans(fake_prolific, [plan("p", fake_prolific.workspace_id, tmp_path)])
    assert result.error is None
    assert batches_named(fake_prolific, "p") == [result.batch_id]
    assert studies_of(fake_prolific, result.batch_id or "") == [result.study_id]
    assert publishes_of(fake_prolific, result.study_id or "") == 1


@pytest.mark.parametrize("fault", [{"lose_answer": True}, {"drop": True}],
                         ids=["stored-then-lost", "cut-before-stored"])
async def test_an_upload_whose_answer_was_lost_is_settled_without_sending_rows_twice(
    fake_prolific: FakeProlific, tmp_path: Path, fault: dict[str, bool],
) -> None:
    fake_prolific.clock.per_request = 0.25
    fake_prolific.inject(method="PUT", times=1, **fault)
    [result] = await run_plans(fake_prolific, [plan("p", fake_prolific.workspace_id, tmp_path)])
    assert result.error is None
    [batch] = fake_prolific.world.batches_named("p")
    assert len(batch.tasks) == 4  # the plan's four rows, once
    datasets = fake_prolific.world.datasets_named("p")
    # Stored: the upload is kept. Cut before: a new dataset gets the rows (the first, never
    # filled, stays behind empty) rather than risking them twice in one.
    assert len(datasets) == (1 if fault.get("lose_answer") else 2)
    assert [len(d.rows) for d in datasets][-1] == 4
