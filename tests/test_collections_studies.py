"""``client.collections`` and ``client.studies`` against the fake, over loopback."""

from __future__ import annotations

import pytest

import prolific_async as pa
from prolific_async._converter import converter
from prolific_async.testing import FakeProlific

from .conftest import example
from .helpers import DETAILS, ready_batch

pytestmark = pytest.mark.anyio


async def test_collection_lifecycle(prolific_client: pa.Prolific,
                                    fake_prolific: FakeProlific) -> None:
    body = example("cli-docs-examples/collection.json")
    pages = converter.structure(body["collection_items"], list[pa.CollectionPage])
    details = converter.structure(body["task_details"], pa.TaskDetails)
    col = await prolific_client.collections.create(
        name=body["name"], workspace_id=fake_prolific.workspace_id, task_details=details,
        collection_items=pages)
    [sent] = fake_prolific.requests_to("POST", "*/collections")
    assert sent.json == {**body, "workspace_id": fake_prolific.workspace_id}
    assert col.collection_items is not None
    assert [type(i) for i in col.collection_items[0].page_items] == [
        pa.RichText, pa.FreeText, pa.MultipleChoice, pa.FreeTextWithUnit, pa.FileUpload]
    assert all(i.id for i in col.collection_items[0].page_items
               if not isinstance(i, pa.UnknownItem))

    got = await prolific_client.collections.get(col.id)
    assert got == col
    listed = await prolific_client.collections.list(workspace_id=fake_prolific.workspace_id,
                                                    limit=10, offset=0)
    assert [c.id for c in listed] == [col.id]
    [listing] = fake_prolific.requests_to("GET", "*/collections")
    assert listing.query == {"workspace_id": fake_prolific.workspace_id, "limit": "10",
                             "offset": "0"}

    kept = col.collection_items[0]
    updated = await prolific_client.collections.update(
        col.id, name="renamed", task_details=DETAILS,
        collection_items=[pa.CollectionPage(id=kept.id, order=0, page_items=kept.page_items[:1])])
    assert updated.name == "renamed" and updated.item_count == 1
    assert updated.workspace_id == fake_prolific.workspace_id
    assert [r async for r in prolific_client.collections.responses(col.id)] == []


async def test_collection_needs_pages(prolific_client: pa.Prolific,
                                      fake_prolific: FakeProlific) -> None:
    with pytest.raises(ValueError, match="collection_items"):
        await prolific_client.collections.create(
            name="c", workspace_id=fake_prolific.workspace_id, task_details=DETAILS,
            collection_items=[])
    assert fake_prolific.requests == []


async def test_unknown_collection_is_404_detail(prolific_client: pa.Prolific) -> None:
    with pytest.raises(pa.NotFoundError) as caught:
        await prolific_client.collections.get("col_1")
    assert caught.value.body == {"detail": "collection not found"}


async def test_study_create_get_transitions(prolific_client: pa.Prolific,
                                            fake_prolific: FakeProlific) -> None:
    batch = await ready_batch(prolific_client, fake_prolific)
    template = example("skills-repo/study-template-AI_TASK_BUILDER_BATCH.json")
    template["data_collection_id"] = batch.id
    create = converter.structure(template, pa.StudyCreate)
    study = await prolific_client.studies.create(create)
    [sent] = fake_prolific.requests_to("POST", "/api/v1/studies/")
    assert sent.json == template
    assert study.status is pa.StudyStatus.UNPUBLISHED
    assert study.data_collection_method is pa.DataCollectionMethod.AI_TASK_BUILDER_BATCH
    assert (await prolific_client.studies.get(study.id)).id == study.id

    published = await prolific_client.studies.publish(study.id)
    assert published.status is pa.StudyStatus.ACTIVE and published.published_at is not None
    paused = await prolific_client.studies.transition(study.id, "PAUSE")
    assert paused.status is pa.StudyStatus.PAUSED
    assert (await prolific_client.studies.transition(
        study.id, pa.StudyAction.START)).status is pa.StudyStatus.ACTIVE
    assert (await prolific_client.studies.transition(
        study.id, pa.StudyAction.STOP)).status is pa.StudyStatus.COMPLETED
    assert [r.json for r in fake_prolific.requests_to("POST", "*/transition/")] == [
        {"action": "PUBLISH"}, {"action": "PAUSE"}, {"action": "START"}, {"action": "STOP"}]


async def test_study_refused_until_batch_ready(prolific_client: pa.Prolific,
                                               fake_prolific: FakeProlific) -> None:
    batch = await prolific_client.batches.create(
        name="b", workspace_id=fake_prolific.workspace_id, task_details=DETAILS)
    with pytest.raises(pa.BadRequestError, match="READY"):
        await prolific_client.studies.create(pa.StudyCreate(
            name="s", description="d", data_collection_id=batch.id, reward=100,
            total_available_places=3, estimated_completion_time=5))


async def test_bad_transition_is_refused_locally(prolific_client: pa.Prolific,
                                                 fake_prolific: FakeProlific) -> None:
    with pytest.raises(ValueError, match="PUBLISH, PAUSE, START, STOP"):
        await prolific_client.studies.transition("s1", "LAUNCH")
    assert fake_prolific.requests == []
