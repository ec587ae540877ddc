"""The one request path: retries, backoff, Retry-After, budgets and error mapping."""

from __future__ import annotations

import pytest

import prolific_async as pa
from prolific_async._transport import parse_retry_after
from prolific_async.testing import FakeProlific

from .conftest import example
from .helpers import DETAILS

pytestmark = pytest.mark.anyio

LIST = "/api/v1/data-collection/batches"


def fast_client(fake: FakeProlific, **kwargs: object) -> pa.Prolific:
    retry = kwargs.pop("retry", pa.RetryPolicy(wait_initial=0.001, wait_max=0.002))
    return pa.Prolific(fake.token, base_url=fake.url, retry=retry, seed=7, **kwargs)  # type: ignore[arg-type]


async def test_429_then_success_waits_what_retry_after_says(fake_prolific: FakeProlific) -> None:
    fake_prolific.inject(method="GET", path=LIST, status=429, retry_after="0.3", times=1)
    async with fast_client(fake_prolific) as client:
        assert await client.batches.list(workspace_id=fake_prolific.workspace_id) == []
    first, second = fake_prolific.requests_to("GET", LIST)
    assert 0.3 <= second.at - first.at < 2.0


async def test_retry_after_longer_than_the_cap_is_not_waited(fake_prolific: FakeProlific) -> None:
    fake_prolific.inject(method="GET", path=LIST, status=429, retry_after="3600")
    async with fast_client(fake_prolific) as client:
        with pytest.raises(pa.RateLimitError) as caught:
            await client.batches.list(workspace_id=fake_prolific.workspace_id)
    assert caught.value.retry_after == 3600
    assert len(fake_prolific.requests_to("GET", LIST)) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_get_is_retried_on_server_errors(fake_prolific: FakeProlific, status: int) -> None:
    fake_prolific.inject(method="GET", path=LIST, status=status, times=2)
    async with fast_client(fake_prolific) as client:
        assert await client.batches.list(workspace_id=fake_prolific.workspace_id) == []
    assert len(fake_prolific.requests_to("GET", LIST)) == 3


async def test_gives_up_after_the_attempts(fake_prolific: FakeProlific) -> None:
    fake_prolific.inject(method="GET", path=LIST, status=503)
    async with fast_client(fake_prolific, retry=pa.RetryPolicy(
            attempts=3, wait_initial=0.001, wait_max=0.001)) as client:
        with pytest.raises(pa.InternalServerError, match="503"):
            await client.batches.list(workspace_id=fake_prolific.workspace_id)
    assert len(fake_prolific.requests_to("GET", LIST)) == 3


async def test_creating_post_is_not_retried_after_500(fake_prolific: FakeProlific) -> None:
    fake_prolific.inject(method="POST", path=LIST, status=500, times=1)
    async with fast_client(fake_prolific) as client:
        with pytest.raises(pa.InternalServerError):
            await client.batches.create(name="b", workspace_id=fake_prolific.workspace_id,
                                        task_details=DETAILS)
        assert await client.batches.list(workspace_id=fake_prolific.workspace_id) == []
    assert len(fake_prolific.requests_to("POST", LIST)) == 1


async def test_creating_post_is_not_retried_after_a_dropped_connection(
    fake_prolific: FakeProlific,
) -> None:
    fake_prolific.inject(method="POST", path=LIST, status=None, drop=True, times=1)
    async with fast_client(fake_prolific) as client:
        with pytest.raises(pa.APIConnectionError):
            await client.batches.create(name="b", workspace_id=fake_prolific.workspace_id,
                                        task_details=DETAILS)
    assert len(fake_prolific.requests_to("POST", LIST)) == 1


async def test_creating_post_is_retried_after_429(fake_prolific: FakeProlific) -> None:
    fake_prolific.inject(method="POST", path=LIST, status=429, retry_after="0", times=1)
    async with fast_client(fake_prolific) as client:
        batch = await client.batches.create(name="b", workspace_id=fake_prolific.workspace_id,
                                            task_details=DETAILS)
        assert [b.id for b in await client.batches.list(
            workspace_id=fake_prolific.workspace_id)] == [batch.id]


async def test_dropped_connection_on_get_is_retried(fake_prolific: FakeProlific) -> None:
    fake_prolific.inject(method="GET", path=LIST, status=None, drop=True, times=2)
    async with fast_client(fake_prolific) as client:
        assert await client.batches.list(workspace_id=fake_prolific.workspace_id) == []
    assert len(fake_prolific.requests_to("GET", LIST)) == 3


async def test_connection_refused_is_a_connection_error() -> None:
    async with pa.Prolific("t", base_url="http://127.0.0.1:9", retry=pa.RetryPolicy(
            attempts=2, wait_initial=0.001, wait_max=0.001)) as client:
        with pytest.raises(pa.APIConnectionError, match="connection failed") as caught:
            await client.batches.get("b")
    assert caught.value.__cause__ is not None


async def test_timeout_is_a_timeout_error(fake_prolific: FakeProlific) -> None:
    fake_prolific.inject(method="GET", path=LIST, status=None, latency=0.5)
    async with fast_client(fake_prolific, timeouts=pa.Timeouts(read=0.05),
                           retry=pa.RetryPolicy(attempts=2, wait_initial=0.001)) as client:
        with pytest.raises(pa.APITimeoutError, match="timed out"):
            await client.batches.list(workspace_id=fake_prolific.workspace_id)
    assert len(fake_prolific.requests_to("GET", LIST)) == 2


async def test_retry_budget_is_shared_by_the_client(fake_prolific: FakeProlific) -> None:
    fake_prolific.inject(method="GET", path=LIST, status=503)
    policy = pa.RetryPolicy(attempts=10, wait_initial=0.001, wait_max=0.001, budget=3,
                            budget_refill_per_second=0)
    async with fast_client(fake_prolific, retry=policy) as client:
        for _ in range(3):
            with pytest.raises(pa.InternalServerError):
                await client.batches.list(workspace_id=fake_prolific.workspace_id)
    # 3 first attempts plus the 3 retries the budget allowed, not 30 requests.
    assert len(fake_prolific.requests_to("GET", LIST)) == 6


def test_retry_after_forms() -> None:
    assert parse_retry_after("7") == 7
    assert parse_retry_after("0.25") == 0.25
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10
    assert parse_retry_after("-3") == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


ERROR_CASES = [
    ("error-bodies/jsonapi_error_400.json", 400, pa.BadRequestError,
     "Bad Request: study ID is invalid"),
    ("error-bodies/simple_error_400.json", 400, pa.BadRequestError,
     "Bad Request: study not found"),
    ("error-bodies/detail_only_batch_not_found.json", 404, pa.NotFoundError, "batch not found"),
    ("error-bodies/other_typed_error.json", 409, pa.ConflictError,
     "SOME_OTHER_ERROR: something went wrong"),
    ("error-bodies/invalid_batch_items_multi.json", 422, pa.UnprocessableEntityError,
     "invalid batch items: Page 0, Row 0, Column 0, Item 0 (free_text): description is "
     "required; Page 1, Row 2, Column 1, Item 3 (multiple_choice): answer_limit exceeds "
     "number of options"),
    ("error-bodies/invalid_batch_items_field.json", 422, pa.UnprocessableEntityError,
     'invalid batch items: Page 0, Row 1, Column 0, Item 2 (dataset_field) "missing_col": '
     "Field does not exist in the dataset schema"),
]


@pytest.mark.parametrize(("name", "status", "error", "detail"), ERROR_CASES,
                         ids=[c[0] for c in ERROR_CASES])
async def test_error_shapes(fake_prolific: FakeProlific, name: str, status: int,
                            error: type[pa.APIStatusError], detail: str) -> None:
    fake_prolific.inject(method="GET", path="*/batches/b1", status=status, body=example(name))
    async with fast_client(fake_prolific) as client:
        with pytest.raises(error) as caught:
            await client.batches.get("b1")
    exc = caught.value
    assert type(exc) is error
    assert exc.status_code == status
    assert exc.detail == detail
    assert str(exc).startswith(f"{status} ")
    assert str(exc).endswith("(GET /api/v1/data-collection/batches/b1)")
    assert "\n" not in str(exc)
    assert exc.body == example(name)


async def test_error_with_field_details(fake_prolific: FakeProlific) -> None:
    body = {"error": {"status": 400, "error_code": 1, "title": "Bad Request",
                      "detail": {"name": ["This field is required."], "reward": ["Too low."]}}}
    fake_prolific.inject(method="GET", path="*/batches/b1", status=400, body=body)
    async with fast_client(fake_prolific) as client:
        with pytest.raises(pa.BadRequestError) as caught:
            await client.batches.get("b1")
    assert caught.value.detail == (
        "Bad Request: name: This field is required.; reward: Too low.")


async def test_html_502_page_is_readable(fake_prolific: FakeProlific) -> None:
    page = ("<html><head><title>502 Bad Gateway</title><style>body{}</style></head>"
            "<body><h1>502 Bad Gateway</h1>\n<hr><center>nginx</center></body></html>")
    fake_prolific.inject(method="GET", path="*/batches/b1", status=502, body=page)
    async with fast_client(fake_prolific, retry=pa.RetryPolicy.disabled()) as client:
        with pytest.raises(pa.InternalServerError) as caught:
            await client.batches.get("b1")
    assert caught.value.detail == "502 Bad Gateway 502 Bad Gateway nginx"


async def test_huge_error_body_is_truncated(fake_prolific: FakeProlific) -> None:
    fake_prolific.inject(method="GET", path="*/batches/b1", status=400,
                         body={"detail": "x" * 1_000_000})
    async with fast_client(fake_prolific) as client:
        with pytest.raises(pa.BadRequestError) as caught:
            await client.batches.get("b1")
    assert len(str(caught.value)) < 700
    assert caught.value.detail.endswith("…")


async def test_unprocessable_entity_issues(fake_prolific: FakeProlific) -> None:
    fake_prolific.inject(method="POST", path=LIST, status=422,
                         body=example("error-bodies/invalid_batch_items_single.json"))
    async with fast_client(fake_prolific) as client:
        with pytest.raises(pa.UnprocessableEntityError) as caught:
            await client.batches.create(name="b", workspace_id=fake_prolific.workspace_id,
                                        task_details=DETAILS)
    assert caught.value.issues == [pa.BatchItemIssue(page=0, row=0, column=0, item=0,
                                                     type="free_text",
                                                     message="description is required")]


async def test_redirect_is_not_followed(fake_prolific: FakeProlific) -> None:
    fake_prolific.inject(method="GET", path="*/batches/b1", status=301,
                         body={"detail": "moved"})
    async with fast_client(fake_prolific) as client:
        with pytest.raises(pa.APIStatusError, match="301") as caught:
            await client.batches.get("b1")
    assert caught.value.status_code == 301
    assert len(fake_prolific.requests) == 1


async def test_body_that_does_not_fit_the_model(fake_prolific: FakeProlific) -> None:
    fake_prolific.inject(method="GET", path="*/batches/b1", status=200,
                         body={"name": "no id here"})
    async with fast_client(fake_prolific) as client:
        with pytest.raises(pa.UnexpectedResponseError, match="not a Batch") as caught:
            await client.batches.get("b1")
    assert caught.value.body == {"name": "no id here"}
    assert "GET /api/v1/data-collection/batches/b1 answered 200" in str(caught.value)


async def test_waiting_for_a_pooled_connection_is_not_a_timeout(
    fake_prolific: FakeProlific,
) -> None:
    import anyio

    # Each answer takes 0.1 s; 12 calls share 2 connections, so the last waits ~0.5 s in the
    # queue: longer than the read timeout, which must not count that wait.
    fake_prolific.inject(method="GET", path=LIST, status=None, latency=0.1)
    async with fast_client(fake_prolific, max_connections=2, timeouts=pa.Timeouts(read=0.3),
                           retry=pa.RetryPolicy.disabled()) as client:
        async def one() -> None:
            await client.batches.list(workspace_id=fake_prolific.workspace_id)

        async with anyio.create_task_group() as group:
            for _ in range(12):
                group.start_soon(one)
    assert len(fake_prolific.requests_to("GET", LIST)) == 12
