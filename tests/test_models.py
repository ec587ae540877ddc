"""Every example body from Prolific's docs, CLI and MCP tests parses; every request example
can be built from the models and serialises back to the same JSON."""

from __future__ import annotations

from datetime import timezone
from typing import Any

import pytest

import prolific_async as pa
from prolific_async._converter import converter

from .conftest import EXAMPLES, example
from .test_study_bodies import STUDY_EXAMPLES, unmodelled

# The CLI's test fixtures put Go placeholders where values were; they are not API values.
PLACEHOLDERS: dict[str, Any] = {
    "<createdAt>": "2024-01-15T10:30:00Z",
    "<n>": 3,
    "string (ISO-8601)": "2026-01-01T00:00:00Z",
}


def substituted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: substituted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [substituted(v) for v in value]
    if isinstance(value, str) and value in PLACEHOLDERS:
        return PLACEHOLDERS[value]
    return value


def results(body: Any) -> Any:
    return body["results"]


RESPONSES: list[tuple[str, Any, Any]] = [
    ("cli-tests-transcribed/batch_create_201.json", pa.Batch, None),
    ("cli-tests-transcribed/batch_get_200.json", pa.Batch, None),
    ("cli-tests-transcribed/batches_list_200.json", list[pa.Batch], results),
    ("cli-tests-transcribed/batch_responses_200.json", list[pa.TaskResponse], results),
    ("cli-tests-transcribed/batch_status_200.json", pa.StatusSnapshot, None),
    ("cli-tests-transcribed/batch_export_get_complete.json", pa.ExportJob, None),
    ("cli-tests-transcribed/batch_export_get_failed.json", pa.ExportJob, None),
    ("cli-tests-transcribed/batch_export_get_generating.json", pa.ExportJob, None),
    ("cli-tests-transcribed/batch_export_post_complete_cached.json", pa.ExportJob, None),
    ("cli-tests-transcribed/batch_export_post_generating.json", pa.ExportJob, None),
    ("cli-tests-transcribed/batch_sync_get_complete.json", pa.BatchSync, None),
    ("cli-tests-transcribed/batch_sync_get_processing.json", pa.BatchSync, None),
    ("cli-tests-transcribed/batch_sync_post_queued.json", pa.BatchSync, None),
    ("cli-tests-transcribed/batch_tasks_200.json", list[str], None),
    ("cli-tests-transcribed/collection_get_200.json", pa.Collection, None),
    ("cli-tests-transcribed/collections_list_200_empty.json", list[pa.Collection], results),
    ("cli-tests-transcribed/dataset_create_201.json", pa.Dataset, None),
    ("cli-tests-transcribed/dataset_get_schema_200.json", pa.DatasetSchema,
     lambda body: body["schema"]),
    ("cli-tests-transcribed/dataset_import_complete.json", pa.DatasetImport, None),
    ("cli-tests-transcribed/dataset_import_failed.json", pa.DatasetImport, None),
    ("cli-tests-transcribed/dataset_import_partial.json", pa.DatasetImport, None),
    ("cli-tests-transcribed/dataset_upload_url_201_csv.json", pa.UploadURL, None),
    ("cli-tests-transcribed/dataset_upload_url_201_jsonl.json", pa.UploadURL, None),
    ("cli-tests-transcribed/instructions_create_201_free_text.json", list[pa.Item], None),
    ("cli-tests-transcribed/instructions_create_201_multiple_choice.json", list[pa.Item], None),
    ("docs-examples/batch_export_post_202.json", pa.ExportJob, None),
    ("docs-examples/dataset_create_v3_201.json", pa.Dataset, None),
    ("docs-examples/dataset_status_ready.json", pa.StatusSnapshot, None),
    ("docs-examples/dataset_upload_url_getting_started_shape.json", pa.UploadURL, None),
    ("docs-examples/dataset_upload_url_v4_200.json", pa.UploadURL, None),
    ("docs-examples/instructions_openapi2025_201.json", list[pa.Item], None),
    ("mcp-tests/collection_create_201.json", pa.Collection, None),
    ("mcp-tests/collection_get_200.json", pa.Collection, None),
    ("mcp-tests/collections_list_200.json", list[pa.Collection], results),
]

# Files that are not 2xx response bodies of a modelled endpoint, each with the reason.
NOT_RESPONSES = {
    # The examples README: "NOT a realistic body — docs say PATCH returns a full Batch".
    "cli-tests-transcribed/update_batch_200_minimal.json",
}


def test_every_response_example_is_listed() -> None:
    response_files = {
        str(p.relative_to(EXAMPLES))
        for folder in ("cli-tests-transcribed", "docs-examples", "mcp-tests")
        for p in (EXAMPLES / folder).glob("*.json")
    }
    requests = {name for name, _ in REQUESTS} | set(STUDY_EXAMPLES) | {
        "docs-examples/study_transition_requests.json", "mcp-tests/collection_get_404.json",
        # Checked against what datasets.create sends, in test_datasets.py.
        "docs-examples/dataset_create_v3_request.json",
    }
    listed = {name for name, _, _ in RESPONSES}
    assert response_files - requests - NOT_RESPONSES == listed


@pytest.mark.parametrize(("name", "model", "pick"), RESPONSES, ids=[r[0] for r in RESPONSES])
def test_response_examples_parse(name: str, model: Any, pick: Any) -> None:
    body = substituted(example(name))
    parsed = converter.structure(pick(body) if pick else body, model)
    assert parsed is not None


def test_batch_example_fields() -> None:
    batch = converter.structure(example("cli-tests-transcribed/batch_get_200.json"), pa.Batch)
    assert batch.status is pa.BatchStatus.UNINITIALISED
    assert batch.created_at is not None and batch.created_at.tzinfo is not None
    assert batch.created_at.utcoffset() == timezone.utc.utcoffset(None)
    assert batch.datasets == [pa.BatchDatasetRef(id="01954894-562f-71be-b2e0-adc7fdd7b3ea",
                                                 total_datapoint_count=10)]
    assert batch.task_details == pa.TaskDetails(
        task_name="Data Collection Task", task_introduction="This is a test task",
        task_steps="Step 1: Do something")


def test_responses_example_answers() -> None:
    rows = converter.structure(
        example("cli-tests-transcribed/batch_responses_200.json")["results"],
        list[pa.TaskResponse])
    assert rows[0].response.type is pa.InstructionType.FREE_TEXT
    assert [a.value for a in rows[1].response.answer] == ["option1", "option2"]
    assert rows[0].metadata == {"key1": "value1", "key2": "value2"}


def test_all_answer_shapes_parse() -> None:
    answers = converter.structure([
        {"value": "text"}, {"value": 37.5, "unit": "celsius"}, {"value": True},
        {"value": "positive", "explanation": "because"},
        {"file_key": "k", "file_name": "a.jpg", "file_size_mb": 0.5, "content_type": "image/jpeg"},
    ], list[pa.Answer])
    assert answers[1].value == 37.5 and answers[1].unit == "celsius"
    assert answers[2].value is True
    assert answers[4].file_name == "a.jpg"


def test_unknown_fields_are_ignored_and_unknown_enums_kept() -> None:
    batch = converter.structure(
        {"id": "b", "status": "ARCHIVED", "brand_new_field": {"x": 1}}, pa.Batch)
    assert batch.status == "ARCHIVED"
    assert isinstance(batch.status, pa.BatchStatus) and not batch.status.known
    assert pa.BatchStatus.READY.known


def test_unknown_item_type_is_kept_whole() -> None:
    raw = {"type": "video_narration", "video": "v.mp4", "order": 2}
    [item] = converter.structure([raw], list[pa.Item])
    assert item == pa.UnknownItem(type="video_narration", data=raw)
    assert converter.unstructure(item, pa.Item) == raw


def test_datetimes_are_aware() -> None:
    naive = converter.structure({"id": "d", "created_at": "2024-01-15T10:30:00"}, pa.Dataset)
    fraction = converter.structure({"id": "d", "created_at": "2024-09-18T07:50:15.05Z"},
                                   pa.Dataset)
    assert naive.created_at is not None and naive.created_at.tzinfo is not None
    assert fraction.created_at is not None and fraction.created_at.microsecond == 50000


# -- requests ------------------------------------------------------------------------------


# Study bodies are checked in test_study_bodies.py.
REQUESTS: list[tuple[str, Any]] = [
    ("cli-docs-examples/batch-instructions.json", list[pa.Item]),
    ("cli-docs-examples/batch-items.json", list[pa.BatchPage]),
    ("cli-docs-examples/batch-items-with-intro-outro.json", list[pa.BatchPage]),
    ("cli-docs-examples/dataset-schema.json", pa.DatasetSchema),
    ("skills-repo/comparison-batch-items.json", list[pa.BatchPage]),
    ("skills-repo/comparison-dataset-schema.json", pa.DatasetSchema),
    ("docs-examples/instructions_openapi2025_request.json", list[pa.Item]),
]


@pytest.mark.parametrize(("name", "model"), REQUESTS, ids=[r[0] for r in REQUESTS])
def test_request_examples_round_trip(name: str, model: Any) -> None:
    body = example(name)
    built = converter.structure(body, model)
    assert unmodelled(built) == []
    assert converter.unstructure(built, model) == body


def test_collection_request_example_round_trips() -> None:
    body = example("cli-docs-examples/collection.json")
    pages = converter.structure(body["collection_items"], list[pa.CollectionPage])
    details = converter.structure(body["task_details"], pa.TaskDetails)
    rebuilt = {
        "workspace_id": body["workspace_id"], "name": body["name"],
        "task_details": converter.unstructure(details),
        "collection_items": converter.unstructure(pages, list[pa.CollectionPage]),
    }
    assert rebuilt == body
    assert isinstance(pages[0].page_items[0], pa.RichText)
    assert isinstance(pages[0].page_items[3], pa.FreeTextWithUnit)


def test_instruction_models_build_the_documented_body() -> None:
    built = [
        pa.MultipleChoice(created_by="Sean",
                          description="Choose the LLM response which is more accurate.",
                          options=[pa.Option(label="Response 1", value="response1"),
                                   pa.Option(label="Response 2", value="response2")]),
        pa.FreeText(created_by="Sean", description="Please share the reasons for your choice."),
    ]
    assert converter.unstructure(built, list[pa.Item]) == example(
        "docs-examples/instructions_openapi2025_request.json")


def test_study_transition_bodies() -> None:
    bodies = example("docs-examples/study_transition_requests.json")
    for key, body in bodies.items():
        assert pa.StudyAction(body["action"]).known
        assert pa.StudyAction(key.upper()).value == body["action"]
