"""The SDK's requests against Prolific's own OpenAPI document, and the bodies it builds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import prolific_async as pa
from prolific_async._converter import converter
from prolific_async.testing import FakeProlific
from prolific_async.testing._spec import SpecValidator, read_spec

from .helpers import CSV, DETAILS, QUESTIONS

pytestmark = pytest.mark.anyio


@pytest.fixture
async def strict_fake() -> AsyncIterator[FakeProlific]:
    # validate_spec=True: the test fails loudly if the validator is missing, not silently.
    async with FakeProlific(validate_spec=True) as fake:
        fake.clock.speed = 0
        yield fake


@pytest.fixture
async def client(strict_fake: FakeProlific) -> AsyncIterator[pa.Prolific]:
    async with pa.Prolific(strict_fake.token, base_url=strict_fake.url) as made:
        yield made


# -- 1. the bodies the SDK builds -----------------------------------------------------------


def test_a_study_on_a_batch_asks_for_the_prolific_id_as_the_aitb_template_does() -> None:
    attached = converter.unstructure(pa.StudyCreate(name="n", description="d",
                                                    data_collection_id="b1"))
    chosen = converter.unstructure(pa.StudyCreate(name="n", description="d",
                                                  data_collection_id="b1",
                                                  prolific_id_option="url_parameters"))
    external = converter.unstructure(pa.StudyCreate(name="n", description="d",
                                                    external_study_url="https://x.test"))
    assert attached["prolific_id_option"] == "question"
    assert chosen["prolific_id_option"] == "url_parameters"
    assert "prolific_id_option" not in external  # no safe default: the server refuses it


def test_a_study_plan_body_carries_the_prolific_id_option() -> None:
    plan = pa.StudyPlan(description="d", reward=10, places=2, estimated_minutes=1)
    body = converter.unstructure(plan.create_body("p", "b1"))
    assert body["prolific_id_option"] == "question"


def test_fractional_study_numbers_are_read_as_given() -> None:
    study = converter.structure({"id": "s1", "reward": 12.5, "total_available_places": 10,
                                 "places_taken": 3, "estimated_completion_time": 2.5,
                                 "maximum_allowed_time": 7.5}, pa.Study)
    assert (study.reward, study.estimated_completion_time, study.maximum_allowed_time) == (
        12.5, 2.5, 7.5)
    assert type(study.total_available_places) is int and type(study.places_taken) is int
    sent = converter.unstructure(pa.StudyCreate(name="n", description="d", reward=12.5))
    assert sent["reward"] == 12.5


async def test_an_option_value_keeps_its_json_type_read_and_sent_back(
    client: pa.Prolific, strict_fake: FakeProlific,
) -> None:
    question = pa.MultipleChoice(description="Agree?", answer_limit=1, options=[
        pa.Option(label="Yes", value=True), pa.Option(label="Two", value=2),
        pa.Option(label="Half", value=0.5), pa.Option(label="No", value="no")])
    batch = await client.batches.create(name="b", workspace_id=strict_fake.workspace_id,
                                        task_details=DETAILS, batch_items=pa.one_page([question]))
    read = await client.batches.get(batch.id)
    assert read.batch_items is not None
    await client.batches.update(batch.id, batch_items=read.batch_items)
    [update] = strict_fake.requests_to("PATCH", "*/batches/*")
    options = update.json["batch_items"][0]["rows"][0]["columns"][0]["items"][0]["options"]
    assert [o["value"] for o in options] == [True, 2, 0.5, "no"]


async def test_instructions_name_their_author_as_the_spec_requires(
    client: pa.Prolific, strict_fake: FakeProlific,
) -> None:
    batch = await client.batches.create(name="b", workspace_id=strict_fake.workspace_id,
                                        task_details=DETAILS)
    await client.instructions.create(batch.id, QUESTIONS)
    await client.instructions.replace(batch.id, [pa.FreeText(description="Why?",
                                                             created_by="Sean")],
                                      created_by="ignored: the item names its author")
    created, replaced = [r.json for r in strict_fake.requests_to("*", "*/instructions")
                         if r.method in ("POST", "PUT")]
    assert [i["created_by"] for i in created["instructions"]] == ["prolific_async"] * 2
    assert [i["created_by"] for i in replaced] == ["Sean"]


# -- 2. the fake refuses what the spec refuses -------------------------------------------


async def test_the_fake_refuses_a_study_without_prolific_id_option_and_creates_nothing(
    client: pa.Prolific, strict_fake: FakeProlific,
) -> None:
    body = pa.StudyCreate(name="n", description="d", external_study_url="https://x.test",
                          reward=100, total_available_places=3, estimated_completion_time=5)
    with pytest.raises(pa.BadRequestError, match="'prolific_id_option' is a required property"):
        await client.studies.create(body)
    assert strict_fake.world.studies == {}


async def test_every_public_method_sends_bodies_the_spec_accepts(
    client: pa.Prolific, strict_fake: FakeProlific, tmp_path: Path,
) -> None:
    fake, ws = strict_fake, strict_fake.workspace_id
    ds = await client.datasets.create(name="d", workspace_id=ws)
    await client.datasets.upload(ds.id, CSV)
    fake.clock.advance(fake.world.dataset_processing)
    layout = await client.batches.create(name="layout", workspace_id=ws, dataset_id=ds.id,
                                         task_details=DETAILS, batch_items=pa.one_page(QUESTIONS))
    await client.batches.update(layout.id, name="layout-2", task_details=DETAILS)
    await client.batches.duplicate(layout.id, name="copy")
    batch = await client.batches.create(name="b", workspace_id=ws, dataset_id=ds.id,
                                        task_details=DETAILS)
    await client.instructions.create(batch.id, QUESTIONS)
    await client.instructions.replace(batch.id, QUESTIONS)
    await client.batches.setup(batch.id, tasks_per_group=2)
    fake.clock.advance(fake.world.batch_setup)
    await client.batches.wait_ready(batch.id)
    collection = await client.collections.create(
        name="c", workspace_id=ws, task_details=DETAILS,
        collection_items=[pa.CollectionPage(order=0, page_items=[
            pa.FreeText(order=0, description="Anything to add?")])])
    await client.collections.update(collection.id, name="c-2", task_details=DETAILS,
                                    collection_items=collection.collection_items or [])
    study = await client.studies.create(pa.StudyCreate(
        name="s", description="d", data_collection_id=batch.id, reward=12.5,
        total_available_places=2, estimated_completion_time=5,
        completion_codes=[pa.CompletionCode(
            code="C1", code_type=pa.CompletionCodeType.COMPLETED,
            actions=[pa.CompletionAction(action=pa.CompletionActionType.MANUALLY_REVIEW)])],
        filters=[pa.StudyFilter(filter_id="participant_group_allowlist",
                                selected_values=["123458388bd36ffaae123456"])],
        device_compatibility=["desktop"],
        submissions_config=pa.SubmissionsConfig(max_submissions_per_participant=1)))
    await client.studies.publish(study.id)
    await client.studies.transition(study.id, pa.StudyAction.PAUSE)
    await client.studies.transition(study.id, pa.StudyAction.START)
    fake.clock.advance(5)
    fake.clock.per_request = 0.5
    await client.batches.export(batch.id, tmp_path)
    # Every body sent to an operation the spec describes was checked by the fake (it would
    # have answered 400); check again here, and that the check covered these operations.
    spec = SpecValidator.load()
    checked = set()
    for sent in fake.requests_to():
        operation = spec.template(sent.method, sent.path)
        if sent.server == "api" and operation is not None and sent.json is not None:
            assert spec.errors(*operation, sent.json) == [], sent
            checked.add(operation)
    assert {("POST", "/api/v1/data-collection/datasets"),
            ("POST", "/api/v1/data-collection/batches"),
            ("POST", "/api/v1/data-collection/batches/{}/instructions"),
            ("PUT", "/api/v1/data-collection/batches/{}/instructions"),
            ("POST", "/api/v1/data-collection/batches/{}/setup"),
            ("POST", "/api/v1/studies"),
            ("POST", "/api/v1/studies/{}/transition")} <= checked


def test_the_stale_spec_corrections_are_what_lets_documented_bodies_through() -> None:
    as_published = SpecValidator(read_spec(), corrections={})
    corrected = SpecValidator.load()
    path = "/api/v1/data-collection/batches/{batch_id}/instructions"
    body = {"instructions": [{"type": "free_text_with_unit", "created_by": "x",
                              "description": "d"}]}
    assert as_published.errors("POST", path, body) != []
    assert corrected.errors("POST", path, body) == []
    study = {"name": "n", "description": "d", "data_collection_id": "b1",
             "prolific_id_option": "question", "reward": 1, "total_available_places": 1,
             "estimated_completion_time": 1}
    assert as_published.errors("POST", "/api/v1/studies/", study) != []
    assert corrected.errors("POST", "/api/v1/studies/", study) == []
    # What the spec says and REFERENCE.md does not contradict still holds.
    assert corrected.errors("POST", "/api/v1/studies/", {**study, "reward": "1"}) != []
    assert corrected.errors("POST", "/api/v1/studies/", {**study, "prolific_id_option": "x"})
