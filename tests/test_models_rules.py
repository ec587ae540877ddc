"""What a model refuses at construction, what it keeps, and what it never shows."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

import prolific_async as pa
from prolific_async._converter import converter, structure_fn
from prolific_async._models import (
    batches,
    collections,
    common,
    datasets,
    exports,
    instructions,
    studies,
)
from prolific_async.testing import FakeProlific

from .conftest import example
from .helpers import DETAILS

pytestmark = pytest.mark.anyio

TWO = [pa.Option(label="A", value="a"), pa.Option(label="B", value="b")]


# -- documented rules, checked before anything is sent ---------------------------------------


@pytest.mark.parametrize("cls", [pa.MultipleChoice, pa.MultipleChoiceWithFreeText])
@pytest.mark.parametrize("limit", [0, 3, 5, -2])
def test_answer_limit_outside_the_options_is_refused(cls: Any, limit: int) -> None:
    with pytest.raises(ValueError, match=rf"answer_limit {limit} is not between 1 and the "
                                         r"number of options \(2\)"):
        cls(description="Pick", options=TWO, answer_limit=limit)


@pytest.mark.parametrize("limit", [None, 1, 2, -1])
def test_answer_limit_within_the_options_or_any(limit: int | None) -> None:
    assert pa.MultipleChoice(description="Pick", options=TWO, answer_limit=limit).options == TWO


@pytest.mark.parametrize(("build", "message"), [
    (lambda: pa.MultipleChoice(description="Pick", options=[]), "options must not be empty"),
    (lambda: pa.FreeText(description="  "), "description is required"),
    (lambda: pa.FreeTextWithUnit(description="Weight?", unit_options=[]),
     "unit_options must not be empty"),
    (lambda: pa.FreeTextWithUnit(description="Weight?", default_unit="lb",
                                 unit_options=[pa.UnitOption(label="kg", value="kg")]),
     "default_unit 'lb' is not one of"),
    (lambda: pa.FileUpload(description="Photo", min_file_count=3, max_file_count=1),
     r"min_file_count \(3\) is above max_file_count \(1\)"),
    (lambda: pa.FileUpload(description="Photo", max_file_size_mb=0),
     "max_file_size_mb must be positive"),
    (lambda: pa.Validation(type="number", min=10, max=1), r"min \(10\) is above max \(1\)"),
    (lambda: pa.StudyCreate(name="n", description="d", filter_set_id="fs",
                            filters=[pa.StudyFilter(filter_id="f", selected_values=["x"])]),
     "filter_set_id cannot be combined with filters"),
    (lambda: pa.one_page([]), "at least one item"),
])
def test_documented_rules_are_checked_at_construction(build: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_an_answer_breaking_a_rule_is_kept_whole() -> None:
    # The server is the judge of what it stored: an item it returns is never lost.
    raw = {"type": "multiple_choice", "description": "Pick", "answer_limit": 5,
           "options": [{"label": "A", "value": "a"}]}
    [item] = converter.structure([raw], list[pa.Item])
    assert item == pa.UnknownItem(type="multiple_choice", data=raw)
    assert converter.unstructure([item], list[pa.Item]) == [raw]


# -- fields the SDK does not know yet --------------------------------------------------------


def test_unknown_keys_of_a_layout_are_kept_and_sent_back() -> None:
    body = [{"id": "p1", "rows": [{"columns": [{"items": [
        {"type": "free_text", "description": "Why?", "required": True},
        {"type": "multiple_choice", "description": "Pick", "answer_limit": 1,
         "options": [{"label": "A", "value": "a", "tooltip": "first"},
                     {"label": "B", "value": "b"}]},
    ], "width": "50%"}]}], "theme": "dark"}]
    [page] = converter.structure(body, list[pa.BatchPage])
    assert page.extra == {"theme": "dark"}
    column = page.rows[0].columns[0]
    assert column.extra == {"width": "50%"}
    free_text, choice = column.items
    assert isinstance(free_text, pa.FreeText) and free_text.extra == {"required": True}
    assert isinstance(choice, pa.MultipleChoice) and choice.options[0].extra == {"tooltip": "first"}
    assert converter.unstructure([page], list[pa.BatchPage]) == body


def test_response_models_ignore_unknown_keys() -> None:
    batch = converter.structure({"id": "b", "brand_new": 1}, pa.Batch)
    assert batch == pa.Batch(id="b")


async def test_extra_fields_of_a_layout_reach_the_server(prolific_client: pa.Prolific,
                                                         fake_prolific: FakeProlific) -> None:
    layout = pa.one_page([pa.FreeText(description="Why?", extra={"required": True})])
    details = pa.TaskDetails(task_name="n", task_introduction="i", task_steps="s",
                             extra={"estimated_minutes": 3})
    await prolific_client.batches.create(name="b", workspace_id=fake_prolific.workspace_id,
                                         task_details=details, batch_items=layout)
    [sent] = fake_prolific.requests_to("POST", "*/batches")
    assert sent.json["task_details"]["estimated_minutes"] == 3
    assert sent.json["batch_items"] == [{"rows": [{"columns": [{"items": [
        {"type": "free_text", "description": "Why?", "required": True}]}]}]}]


# -- the one-page layout ---------------------------------------------------------------------


def test_one_page_is_the_cli_example_layout() -> None:
    body = example("cli-docs-examples/batch-items.json")
    items = converter.structure(body[0]["rows"][0]["columns"][0]["items"], list[pa.Item])
    assert converter.unstructure(pa.one_page(items), list[pa.BatchPage]) == body


async def test_one_page_layout_is_sent(prolific_client: pa.Prolific,
                                       fake_prolific: FakeProlific) -> None:
    question = pa.MultipleChoice(description="Pick", options=TWO, answer_limit=1)
    batch = await prolific_client.batches.create(
        name="b", workspace_id=fake_prolific.workspace_id, task_details=DETAILS,
        batch_items=pa.one_page([pa.DatasetField(field="response"), question]))
    assert batch.id
    [sent] = fake_prolific.requests_to("POST", "*/batches")
    assert [item["type"] for item in sent.json["batch_items"][0]["rows"][0]["columns"][0]
            ["items"]] == ["dataset_field", "multiple_choice"]


# -- presigned URLs are credentials ----------------------------------------------------------

SIGNED = "https://bucket.s3.amazonaws.com/ws/data.csv?X-Amz-Signature=s3cr3t&X-Amz-Expires=900"


@pytest.mark.parametrize("model", [
    pa.UploadURL(upload_url=SIGNED),
    pa.ExportJob(status=pa.ExportStatus.COMPLETE, url=SIGNED),
    pa.ReportLink(url=SIGNED),
])
def test_presigned_urls_are_masked_in_reprs(model: Any) -> None:
    shown = repr(model)
    assert "s3cr3t" not in shown and "X-Amz" not in shown
    assert "https://bucket.s3.amazonaws.com/ws/data.csv?<redacted>" in shown


def test_a_url_without_query_is_shown_whole() -> None:
    assert "https://host/report.csv'" in repr(pa.ReportLink(url="https://host/report.csv"))
    assert "url=None" in repr(pa.ReportLink())


# -- one enum for one set of statuses --------------------------------------------------------


def test_batch_and_dataset_share_one_status_enum() -> None:
    assert pa.BatchStatus is pa.DatasetStatus
    batch = converter.structure({"id": "b", "status": "READY"}, pa.Batch)
    assert batch.status is pa.DatasetStatus.READY


# -- every public model documents itself -----------------------------------------------------

MODULES = [batches, collections, common, datasets, exports, instructions, studies]
PUBLIC = sorted({name for module in MODULES for name in module.__all__ if hasattr(pa, name)})


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_model_has_its_own_docstring(name: str) -> None:
    obj = getattr(pa, name)
    if not (inspect.isclass(obj) or inspect.isfunction(obj)):
        return  # a type alias (Item, Instruction, BatchStatus) is documented where defined
    doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
    assert doc and doc.strip(), name
    assert "REFERENCE" not in doc and "§" not in doc, name


# -- the cached structuring entry point -----------------------------------------------------


@pytest.mark.parametrize(("model", "name"), [
    (pa.Batch, "cli-tests-transcribed/batch_get_200.json"),
    (pa.Collection, "mcp-tests/collection_get_200.json"),
    (pa.UploadURL, "docs-examples/dataset_upload_url_v4_200.json"),
    (list[pa.Item], "docs-examples/instructions_openapi2025_201.json"),
    (pa.StudyCreate, "skills-repo/study-template-AI_TASK_BUILDER_BATCH.json"),
])
def test_structure_fn_reads_as_the_converter_does(model: Any, name: str) -> None:
    body = example(name)
    read = structure_fn(model)
    assert read is structure_fn(model)
    assert read(body) == converter.structure(body, model)


def test_structure_fn_keeps_the_models_rules() -> None:
    read = structure_fn(pa.Dataset)
    naive = read({"id": "d", "created_at": "2024-01-15T10:30:00", "status": "ARCHIVED"})
    assert naive.created_at is not None and naive.created_at.tzinfo is not None
    assert naive.status == "ARCHIVED" and not naive.status.known
    with pytest.raises(TypeError):
        read({"id": "d", "total_datapoint_count": {"not": "a number"}})
