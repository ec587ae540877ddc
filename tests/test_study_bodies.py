"""Every study-create body in Prolific's guide, the CLI's templates and the skills repository
builds a `StudyCreate` with every field modelled, serialises back to the same JSON, and is
sent as it is."""

from __future__ import annotations

import contextlib
from typing import Any

import attrs
import pytest

import prolific_async as pa
from prolific_async._converter import converter
from prolific_async.testing import FakeProlific

from .conftest import example
from .helpers import ready_batch

pytestmark = pytest.mark.anyio

STUDY_EXAMPLES = [
    "docs-examples/study_create_guide_allow_list.json",
    "docs-examples/study_create_aitb_request_legacy_DC_TOOL.json",
    "cli-docs-examples/standard-sample-aitaskbuilder.json",
    "cli-docs-examples/study-with-ai-task-builder-collection.json",
    "cli-docs-examples/study-with-taskflow.json",
    "skills-repo/study-template-AI_TASK_BUILDER_BATCH.json",
]


def unmodelled(value: Any, path: str = "") -> list[str]:
    """Where a model kept JSON keys in ``extra`` (keys the SDK does not model)."""
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in unmodelled(v, f"{path}[{i}]")]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in unmodelled(v, f"{path}[{k!r}]")]
    if not attrs.has(type(value)):
        return []
    found = [f"{path}.{key}" for key in getattr(value, "extra", {})]
    for field in attrs.fields(type(value)):
        if field.name != "extra":
            found += unmodelled(getattr(value, field.name), f"{path}.{field.name}")
    return found


@pytest.mark.parametrize("name", STUDY_EXAMPLES)
def test_study_example_builds_with_every_field_modelled(name: str) -> None:
    body = example(name)
    study = converter.structure(body, pa.StudyCreate)
    assert unmodelled(study) == []
    assert converter.unstructure(study) == body


def test_guide_study_fields_are_typed() -> None:
    study = converter.structure(example("docs-examples/study_create_guide_allow_list.json"),
                                pa.StudyCreate)
    assert study.external_study_url == "https://eggs-experriment.com?participant={{%PROLIFIC_PID%}}"
    assert study.data_collection_id is None and study.data_collection_method is None
    assert study.completion_codes is not None
    follow_up = study.completion_codes[1]
    assert follow_up.code_type is pa.CompletionCodeType.FOLLOW_UP_STUDY
    assert follow_up.actions[1] == pa.CompletionAction(
        action=pa.CompletionActionType.ADD_TO_PARTICIPANT_GROUP,
        participant_group="619e049f7648a4e1f8f3645b")
    assert study.filters == [pa.StudyFilter(filter_id="custom_allowlist",
                                            selected_values=["619e049f7648a4e1f8f3645b"])]
    assert study.submissions_config == pa.SubmissionsConfig(max_submissions_per_participant=1)


def test_taskflow_access_details_are_typed() -> None:
    study = converter.structure(example("cli-docs-examples/study-with-taskflow.json"),
                                pa.StudyCreate)
    assert study.access_details is not None
    assert study.access_details[0] == pa.AccessDetail(external_url="https://google.com",
                                                      total_allocation=20)


@pytest.mark.parametrize("name", STUDY_EXAMPLES)
async def test_study_example_is_sent_as_it_is(name: str, prolific_client: pa.Prolific,
                                              fake_prolific: FakeProlific) -> None:
    body = example(name)
    # Placeholder ids (and studies with no batch) are refused by the fake; the body is what
    # this test is about.
    with contextlib.suppress(pa.APIStatusError):
        await prolific_client.studies.create(converter.structure(body, pa.StudyCreate))
    [sent] = fake_prolific.requests_to("POST", "*/studies*")
    assert sent.json == body


async def test_skills_template_creates_a_study_for_a_ready_batch(
        prolific_client: pa.Prolific, fake_prolific: FakeProlific) -> None:
    batch = await ready_batch(prolific_client, fake_prolific)
    body = example("skills-repo/study-template-AI_TASK_BUILDER_BATCH.json")
    body["data_collection_id"] = batch.id
    study = await prolific_client.studies.create(converter.structure(body, pa.StudyCreate))
    assert study.data_collection_id == batch.id
    assert study.completion_codes is not None
    assert study.completion_codes[0].actions == [
        pa.CompletionAction(action=pa.CompletionActionType.MANUALLY_REVIEW)]
    [sent] = fake_prolific.requests_to("POST", "*/studies*")
    assert sent.json == body


def test_study_method_defaults_to_batch_only_when_attached() -> None:
    attached = pa.StudyCreate(name="n", description="d", data_collection_id="b1")
    external = pa.StudyCreate(name="n", description="d", external_study_url="https://x.test")
    assert converter.unstructure(attached)["data_collection_method"] == "AI_TASK_BUILDER_BATCH"
    assert "data_collection_method" not in converter.unstructure(external)


# -- fields the SDK does not know yet -------------------------------------------------------


async def test_study_extra_fields_are_sent(prolific_client: pa.Prolific,
                                           fake_prolific: FakeProlific) -> None:
    batch = await ready_batch(prolific_client, fake_prolific)
    await prolific_client.studies.create(pa.StudyCreate(
        name="n", description="d", data_collection_id=batch.id, reward=100,
        total_available_places=3, estimated_completion_time=5, completion_codes=[pa.CompletionCode(
            code="C1", code_type=pa.CompletionCodeType.COMPLETED, actions=[],
            extra={"redirect": True})],
        extra={"a_field_added_last_week": {"on": True}}))
    [sent] = fake_prolific.requests_to("POST", "*/studies*")
    assert sent.json["a_field_added_last_week"] == {"on": True}
    assert sent.json["completion_codes"] == [
        {"code": "C1", "code_type": "COMPLETED", "actions": [], "redirect": True}]
    assert sent.json["reward"] == 100


@pytest.mark.parametrize(("build", "key"), [
    (lambda extra: pa.StudyCreate(name="n", description="d", extra=extra), "reward"),
    (lambda extra: pa.TaskDetails(task_name="n", task_introduction="i", task_steps="s",
                                  extra=extra), "task_name"),
    (lambda extra: pa.FreeText(description="Why?", extra=extra), "type"),
    (lambda extra: pa.FreeText(description="Why?", extra=extra), "description"),
    (lambda extra: pa.Option(label="A", value="a", extra=extra), "value"),
    (lambda extra: pa.BatchPage(rows=[], extra=extra), "rows"),
    (lambda extra: pa.CollectionPage(order=0, page_items=[], extra=extra), "order"),
    (lambda extra: pa.DatasetSchema(fields={}, extra=extra), "strict"),
])
def test_extra_refuses_modelled_keys(build: Any, key: str) -> None:
    with pytest.raises(ValueError, match=rf"extra repeats modelled field\(s\) {key}"):
        build({key: 1})
