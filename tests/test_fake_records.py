"""What the fake lets a test check beyond the API (batches by name, studies per batch,
publishes, exports, datasets), and the API answers the orchestrator relies on: the studies
list, batch statuses in the batches list, refused studies and refused second publishes."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

import prolific_async as pa
from prolific_async.testing import FakeProlific

from .conftest import example
from .helpers import DETAILS, new_batch, published_study, ready_batch, ready_dataset

pytestmark = pytest.mark.anyio


async def api_get(fake: FakeProlific, path: str, **params: str) -> Any:
    headers = {"Authorization": f"Token {fake.token}"}
    async with aiohttp.ClientSession(fake.url, headers=headers) as session, \
            session.get(path, params=params) as resp:
        assert resp.status == 200
        return await resp.json()


async def test_one_batch_one_study_one_publish(prolific_client: pa.Prolific,
                                               fake_prolific: FakeProlific) -> None:
    batch = await ready_batch(prolific_client, fake_prolific, name="plan-1")
    study = await published_study(prolific_client, fake_prolific, batch)
    [kept] = fake_prolific.world.batches_named("plan-1")
    assert kept.id == batch.id
    [record] = fake_prolific.world.studies_for(batch.id)
    assert record.id == study.id and record.publish_count == 1
    assert record.publishes == [fake_prolific.clock.now()]

    # Publishing again is refused (400) and changes nothing.
    with pytest.raises(pa.BadRequestError, match="ACTIVE"):
        await prolific_client.studies.publish(study.id)
    assert record.publish_count == 1 and record.refused_publishes == 1
    assert fake_prolific.world.batches_named("nope") == []
    assert fake_prolific.world.studies_for("nope") == []


async def test_batches_named_follows_renames_and_duplicates(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific,
) -> None:
    dataset = await ready_dataset(prolific_client, fake_prolific, name="reviews")
    first = await new_batch(prolific_client, fake_prolific, dataset, name="a")
    await new_batch(prolific_client, fake_prolific, dataset, name="a")
    assert len(fake_prolific.world.batches_named("a")) == 2
    await prolific_client.batches.update(first.id, name="b")
    assert [b.id for b in fake_prolific.world.batches_named("b")] == [first.id]
    assert len(fake_prolific.world.batches_named("a")) == 1
    await prolific_client.batches.duplicate(first.id)
    assert len(fake_prolific.world.batches_named("b (Copy)")) == 1
    assert [d.id for d in fake_prolific.world.datasets_named("reviews")] == [dataset.id]
    assert [b.id for b in fake_prolific.world.batches()][:1] == [first.id]


async def test_exports_for_lists_every_job(prolific_client: pa.Prolific,
                                           fake_prolific: FakeProlific) -> None:
    batch = await ready_batch(prolific_client, fake_prolific)
    first = await prolific_client.batches.request_export(batch.id)
    fake_prolific.clock.advance(fake_prolific.world.export_generating)
    second = await prolific_client.batches.request_export(batch.id)
    jobs = fake_prolific.world.exports_for(batch.id)
    assert [j.id for j in jobs] == [first.export_id, second.export_id]
    assert not any(j.deleted for j in jobs)


async def test_studies_list_filters_by_state(prolific_client: pa.Prolific,
                                             fake_prolific: FakeProlific) -> None:
    batch = await ready_batch(prolific_client, fake_prolific)
    active = await published_study(prolific_client, fake_prolific, batch, places=5)
    draft = await prolific_client.studies.create(pa.StudyCreate(
        name="Draft", description="d", data_collection_id=batch.id, reward=100,
        total_available_places=5, estimated_completion_time=5))
    everything = await api_get(fake_prolific, "/api/v1/studies/")
    assert [s["id"] for s in everything["results"]] == [active.id, draft.id]
    assert everything["results"][0]["data_collection_id"] == batch.id

    both = await api_get(fake_prolific, "/api/v1/studies", state="(UNPUBLISHED|ACTIVE)")
    assert [s["id"] for s in both["results"]] == [active.id, draft.id]
    only = await api_get(fake_prolific, "/api/v1/studies/", state="ACTIVE")
    assert [s["id"] for s in only["results"]] == [active.id]

    # The SDK reads the same list, and finds a batch's study in it.
    assert [s.id for s in await prolific_client.studies.list(state="UNPUBLISHED")] == [draft.id]
    assert [s.id for s in await prolific_client.studies.list(data_collection_id=batch.id)] == [
        active.id, draft.id]

    fake_prolific.clock.advance(5 * fake_prolific.world.submission_interval)
    assert (await api_get(fake_prolific, "/api/v1/studies/", state="ACTIVE"))["results"] == []
    waiting = await api_get(fake_prolific, "/api/v1/studies/", state="AWAITING REVIEW")
    assert [(s["id"], s["places_taken"]) for s in waiting["results"]] == [(active.id, 5)]


async def test_batches_list_carries_each_status(prolific_client: pa.Prolific,
                                                fake_prolific: FakeProlific) -> None:
    ready = await ready_batch(prolific_client, fake_prolific, name="ready")
    dataset = await ready_dataset(prolific_client, fake_prolific, name="second")
    fresh = await new_batch(prolific_client, fake_prolific, dataset, name="fresh")
    setting_up = await new_batch(prolific_client, fake_prolific, dataset, name="setting-up")
    await prolific_client.batches.setup(setting_up.id, tasks_per_group=2)

    listing = await api_get(fake_prolific, "/api/v1/data-collection/batches",
                            workspace_id=fake_prolific.workspace_id)
    statuses = {b["id"]: b["status"] for b in listing["results"]}
    assert statuses == {ready.id: "READY", fresh.id: "UNINITIALISED",
                        setting_up.id: "PROCESSING"}
    # Every field of the documented list item is there.
    documented = example("cli-tests-transcribed/batches_list_200.json")["results"][0]
    for batch in listing["results"]:
        assert set(documented) <= set(batch)
        assert set(documented["datasets"][0]) <= set(batch["datasets"][0])
    # And the SDK reads it.
    listed = await prolific_client.batches.list(workspace_id=fake_prolific.workspace_id)
    assert {b.id: b.status for b in listed} == {
        ready.id: pa.BatchStatus.READY, fresh.id: pa.BatchStatus.UNINITIALISED,
        setting_up.id: pa.BatchStatus.PROCESSING}


async def test_a_study_for_a_batch_not_ready_is_refused(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific,
) -> None:
    dataset = await ready_dataset(prolific_client, fake_prolific)
    batch = await prolific_client.batches.create(
        name="not-ready", workspace_id=fake_prolific.workspace_id, dataset_id=dataset.id,
        task_details=DETAILS)
    with pytest.raises(pa.BadRequestError, match="READY"):
        await prolific_client.studies.create(pa.StudyCreate(
            name="S", description="d", data_collection_id=batch.id, reward=1,
            total_available_places=1, estimated_completion_time=1))
    assert fake_prolific.world.studies_for(batch.id) == []
