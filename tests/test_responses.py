"""Responses from the API as typed values: every answer shape, pages followed, no_submission
flagged. The bodies are the CLI's transcribed example and ones written to the documented
schema, served over HTTP by the fake."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import prolific_async as pa
from prolific_async._converter import converter
from prolific_async.testing import FakeProlific

from .conftest import example

pytestmark = pytest.mark.anyio

EXAMPLE = example("cli-tests-transcribed/batch_responses_200.json")
BATCH = "5cf3ea63-3980-4149-9ea9-bea243489cc8"
RESPONSES = f"/api/v1/data-collection/batches/{BATCH}/responses"


def response(rid: str, kind: str, answer: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"id": rid, "batch_id": BATCH, "participant_id": "p", "task_id": "t",
            "submission_id": "s", "created_at": "2024-01-01T12:00:00Z",
            "response": {"instruction_id": f"i-{rid}", "type": kind, "answer": answer}, **extra}


async def test_cli_example_reads_as_typed_values(prolific_client: pa.Prolific,
                                                 fake_prolific: FakeProlific) -> None:
    fake_prolific.inject(method="GET", path=RESPONSES, status=200, body=EXAMPLE)
    first, second = [r async for r in prolific_client.batches.responses(BATCH)]
    assert first.value == pa.FreeTextValue(value="test response")
    assert second.value == pa.MultipleChoiceValue(values=["option1", "option2"])
    assert first.metadata == {"key1": "value1", "key2": "value2"}
    assert first.no_submission is False


def test_every_api_answer_shape_has_its_value() -> None:
    rows = converter.structure([
        response("a", "free_text", [{"value": "fine"}]),
        response("b", "free_text_with_unit", [{"value": 37.5, "unit": "celsius"}]),
        response("c", "multiple_choice", [{"value": "x"}, {"value": "y"}]),
        response("d", "multiple_choice_with_free_text",
                 [{"value": "positive", "explanation": "it works"}]),
        response("e", "file_upload", [{"file_key": "uploads/k.jpg", "file_name": "a.jpg",
                                       "file_size_mb": 0.5, "content_type": "image/jpeg"}]),
        response("f", "ranking", [{"value": "b"}, {"value": "a"}]),
        response("g", "free_text_with_unit", [{"value": "3"}]),  # no unit: not the shape
    ], list[pa.TaskResponse])
    assert [r.value for r in rows] == [
        pa.FreeTextValue(value="fine"),
        pa.FreeTextWithUnitValue(value="37.5", unit="celsius"),
        pa.MultipleChoiceValue(values=["x", "y"]),
        pa.MultipleChoiceWithFreeTextValue(values=[
            pa.ExplainedChoice(option="positive", explanation="it works")]),
        pa.FileUploadValue(files=[pa.UploadedFile(name="a.jpg", key="uploads/k.jpg",
                                                  size_mb=0.5, content_type="image/jpeg")]),
        pa.UnknownValue(type=pa.InstructionType("ranking"),
                        data={"answer": [{"value": "b"}, {"value": "a"}]}),
        pa.UnknownValue(type=pa.InstructionType.FREE_TEXT_WITH_UNIT,
                        data={"answer": [{"value": "3"}]}),
    ]


async def test_no_submission_is_flagged_not_dropped(prolific_client: pa.Prolific,
                                                    fake_prolific: FakeProlific) -> None:
    body = {"results": [response("a", "free_text", [{"value": "kept"}]),
                        response("b", "free_text", [{"value": "x"}], no_submission=True)],
            "meta": {"count": 2}}
    fake_prolific.inject(method="GET", path=RESPONSES, status=200, body=body)
    rows = [r async for r in prolific_client.batches.responses(BATCH)]
    assert [(r.id, r.no_submission) for r in rows] == [("a", False), ("b", True)]


async def test_pages_are_followed(prolific_client: pa.Prolific,
                                  fake_prolific: FakeProlific) -> None:
    page = copy.deepcopy(EXAMPLE)
    page["_links"] = {"next": {"href": f"{fake_prolific.url}{RESPONSES}?offset=2",
                               "title": "next"}}
    last = {"results": [response("c", "free_text", [{"value": "3rd"}])], "meta": {"count": 3},
            "_links": {"next": {"href": None}}}
    fake_prolific.inject(method="GET", path=RESPONSES, status=200, body=page, times=1)
    rows = prolific_client.batches.responses(BATCH)
    assert (await anext(rows)).id == "response-123"
    # A page is asked for only once the one before it is used up.
    assert len(fake_prolific.requests_to("GET", RESPONSES)) == 1
    fake_prolific.inject(method="GET", path=RESPONSES, status=200, body=last, times=1)
    assert [r.id async for r in rows] == ["response-789", "c"]
    first, second = fake_prolific.requests_to("GET", RESPONSES)
    assert first.query == {} and second.query == {"offset": "2"}


async def test_next_page_off_the_api_is_refused(prolific_client: pa.Prolific,
                                                fake_prolific: FakeProlific) -> None:
    page = dict(EXAMPLE, next=f"{fake_prolific.storage_url}/steal?offset=2")
    fake_prolific.inject(method="GET", path=RESPONSES, status=200, body=page)
    rows = prolific_client.batches.responses(BATCH)
    with pytest.raises(pa.UnexpectedResponseError, match="next page off the API"):
        [r async for r in rows]
    assert [r.server for r in fake_prolific.requests] == ["api"]


async def test_a_next_page_already_read_is_an_error(prolific_client: pa.Prolific,
                                                    fake_prolific: FakeProlific) -> None:
    page = dict(EXAMPLE, _links={"next": {"href": f"{RESPONSES}?offset=2"}})
    fake_prolific.inject(method="GET", path=RESPONSES, status=200, body=page)
    with pytest.raises(pa.UnexpectedResponseError, match="already read"):
        [r async for r in prolific_client.batches.responses(BATCH)]
    assert len(fake_prolific.requests_to("GET", RESPONSES)) == 2


def test_bad_batch_id_is_refused_before_iterating() -> None:
    client = pa.Prolific("token")
    with pytest.raises(ValueError, match="batch_id"):
        client.batches.responses("../x")
