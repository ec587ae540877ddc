"""The foundation fixes, as a user meets them: lost answers, secrets, names, clear errors."""

from __future__ import annotations

import copy
import logging
import pickle
import sys
import traceback
from pathlib import Path

import pytest

import prolific_async as pa
from prolific_async.testing import FakeClock, FakeProlific

from .helpers import DETAILS, new_batch, ready_batch, ready_dataset, write_csv

pytestmark = pytest.mark.anyio

BATCHES = "/api/v1/data-collection/batches"


def fast(fake: FakeProlific, **kwargs: object) -> pa.Prolific:
    return pa.Prolific(fake.token, base_url=fake.url, seed=3,  # type: ignore[arg-type]
                       retry=pa.RetryPolicy(wait_initial=0.001, wait_max=0.002),
                       poll=pa.PollPolicy(initial=0.005, ceiling=0.02, deadline=5), **kwargs)


# -- an answer lost after sending -------------------------------------------------------------

async def test_lost_answer_to_a_create_says_it_may_have_happened(
    fake_prolific: FakeProlific,
) -> None:
    fake_prolific.inject(method="POST", path=BATCHES, status=None, drop=True, times=1)
    async with fast(fake_prolific) as client:
        with pytest.raises(pa.OutcomeUnknownError) as caught:
            await client.batches.create(name="reviews-1", workspace_id=fake_prolific.workspace_id,
                                        task_details=DETAILS)
    error = caught.value
    assert isinstance(error, pa.APIConnectionError)
    assert error.request.method == "POST" and error.request.url == BATCHES
    assert "may have carried it out" in str(error) and "find the batch by name" in str(error)
    assert "reviews-1" in error.body_summary and "task_details" in error.body_summary
    assert len(fake_prolific.requests_to("POST", BATCHES)) == 1


async def test_a_get_whose_answer_is_lost_is_simply_retried(fake_prolific: FakeProlific) -> None:
    fake_prolific.inject(method="GET", path=BATCHES, status=None, drop=True, times=1)
    async with fast(fake_prolific) as client:
        assert await client.batches.list(workspace_id=fake_prolific.workspace_id) == []
    assert len(fake_prolific.requests_to("GET", BATCHES)) == 2


async def test_find_the_batch_and_its_study_after_a_lost_answer(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific,
) -> None:
    batch = await ready_batch(prolific_client, fake_prolific, name="wanted")
    ds = await ready_dataset(prolific_client, fake_prolific, name="other-ds")
    await new_batch(prolific_client, fake_prolific, ds, name="other")
    found = await prolific_client.batches.find("wanted", workspace_id=fake_prolific.workspace_id)
    assert found is not None and found.id == batch.id
    assert await prolific_client.batches.find(
        "missing", workspace_id=fake_prolific.workspace_id) is None
    assert await prolific_client.studies.list(data_collection_id=batch.id) == []
    study = await prolific_client.studies.create(pa.StudyCreate(
        name="s", description="d", data_collection_id=batch.id, reward=10,
        total_available_places=1, estimated_completion_time=1))
    assert [s.id for s in await prolific_client.studies.list(data_collection_id=batch.id)] == [
        study.id]
    assert [s.id for s in await prolific_client.studies.list(state="UNPUBLISHED")] == [study.id]
    assert await prolific_client.studies.list(state="ACTIVE") == []


async def test_the_obvious_first_test_says_how_to_move_the_fake_clock(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific, tmp_path: Path,
) -> None:
    ds = await prolific_client.datasets.create(name="d", workspace_id=fake_prolific.workspace_id)
    await prolific_client.datasets.upload(ds.id, write_csv(tmp_path))
    with pytest.raises(pa.PollTimeout, match=r"call fake_prolific\.clock\.advance\(seconds\)"):
        await prolific_client.datasets.wait_ready(ds.id, poll=pa.PollPolicy(deadline=0.05))


# -- a 429 slows every caller -----------------------------------------------------------------

async def test_a_429_pauses_every_request_of_the_client(fake_prolific: FakeProlific) -> None:
    fake_prolific.inject(method="GET", path=BATCHES, status=429, retry_after="0.3", times=1)
    async with fast(fake_prolific) as client:
        assert await client.batches.list(workspace_id=fake_prolific.workspace_id) == []
        # Another call, to another route, after the 429: it waits out the same pause.
        with pytest.raises(pa.NotFoundError):
            await client.datasets.get("no-such-dataset")
        assert client.stats.rate_limited == 1
    limited, retried = fake_prolific.requests_to("GET", BATCHES)
    [other] = fake_prolific.requests_to("GET", "*/datasets/*")
    assert retried.at - limited.at >= 0.3 and other.at - limited.at >= 0.3


# -- many batches watched with one list request per tick --------------------------------------

async def test_batches_of_one_workspace_share_one_list_poll() -> None:
    async with FakeProlific(clock=FakeClock(speed=0), seed=2) as fake:
        async with fast(fake) as client:
            ds = await ready_dataset(client, fake)
            batches = [await new_batch(client, fake, ds, name=f"b{n}") for n in range(20)]
            for batch in batches:
                await client.batches.setup(batch.id)
            fake.clock.per_request = 0.25
            before = len(fake.requests)
            async with pa.watch_many(client.batches.watch(b.id, workspace_id=fake.workspace_id)
                                     for b in batches) as stream:
                events = [e async for e in stream]
    assert all(isinstance(e, pa.Transition) for e in events)
    finals = {e.resource_id: e.current for e in events if isinstance(e, pa.Transition)}
    assert finals == {b.id: "READY" for b in batches}
    polls = fake.requests[before:]
    assert {r.path for r in polls} == {BATCHES}
    # 2 s of setup at 0.25 s of fake time per request: about 8 list requests, for 20 batches.
    assert len(polls) <= 10


async def test_wait_ready_by_list_returns_the_batch(prolific_client: pa.Prolific,
                                                    fake_prolific: FakeProlific) -> None:
    batch = await ready_batch(prolific_client, fake_prolific)
    got = await prolific_client.batches.wait_ready(batch.id,
                                                   workspace_id=fake_prolific.workspace_id)
    assert got.id == batch.id and got.status == pa.BatchStatus.READY


# -- a job never started is said at once ------------------------------------------------------

async def test_wait_ready_on_a_batch_never_set_up(prolific_client: pa.Prolific,
                                                  fake_prolific: FakeProlific) -> None:
    ds = await ready_dataset(prolific_client, fake_prolific)
    batch = await new_batch(prolific_client, fake_prolific, ds)
    with pytest.raises(pa.JobNotStarted, match=r"client\.batches\.setup") as caught:
        await prolific_client.batches.wait_ready(batch.id)
    assert caught.value.status == "UNINITIALISED"
    assert len(fake_prolific.requests_to("GET", "*/status")) == 1


async def test_wait_ready_on_a_dataset_never_uploaded(prolific_client: pa.Prolific,
                                                      fake_prolific: FakeProlific) -> None:
    ds = await prolific_client.datasets.create(name="d", workspace_id=fake_prolific.workspace_id)
    with pytest.raises(pa.JobNotStarted, match=r"client\.datasets\.upload"):
        await prolific_client.datasets.wait_ready(ds.id)


# -- one name for the poll policy -------------------------------------------------------------

# -- the token is a secret everywhere ---------------------------------------------------------

SECRET = "tok-3f9a1c77d2e84b5b"


def shown(obj: object) -> str:
    """Every way a debugger, a log line or a traceback with locals might show an object."""
    parts = [str(obj), repr(obj), f"{obj}"]
    if hasattr(obj, "__dict__"):
        parts += [repr(vars(obj)), *(repr(v) for v in vars(obj).values())]
    return "\n".join(parts)


async def test_the_token_is_never_shown() -> None:
    async with FakeProlific(token=SECRET, clock=FakeClock(speed=0)) as fake:
        client = fast(fake)
        assert SECRET not in shown(client)
        async with client:
            transport = client._context.transport
            watch = client.batches.watch("b-1")
            for obj in (client, transport, client.batches, client.datasets, client._context,
                        client._context.watch_env, watch, client.stats):
                assert SECRET not in shown(obj), obj
            await watch.aclose()
            errors: list[BaseException] = []
            fake.inject(method="GET", path="*", status=500)
            for call in (client.batches.get("b-1"), client.datasets.get("d-1")):
                try:
                    await call
                except pa.ProlificError as exc:
                    errors.append(exc)
            for exc in errors:
                text = "".join(traceback.TracebackException.from_exception(
                    exc, capture_locals=True).format())
                assert SECRET not in text and SECRET not in shown(exc)
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(client)
        with pytest.raises(TypeError, match="cannot be pickled"):
            copy.deepcopy(client)


def test_a_traceback_with_locals_from_the_constructor_hides_the_token() -> None:
    try:
        pa.Prolific(SECRET, base_url="ftp://nowhere")
    except pa.ConfigurationError:
        text = "".join(traceback.TracebackException(*sys.exc_info(),  # type: ignore[arg-type]
                                                    capture_locals=True).format())
    assert "base_url 'ftp://nowhere' is refused" in text and SECRET not in text


async def test_debug_logs_never_carry_the_token(caplog: pytest.LogCaptureFixture) -> None:
    async with FakeProlific(token=SECRET, clock=FakeClock(speed=0)) as fake:
        with caplog.at_level(logging.DEBUG, logger="prolific_async"):
            async with fast(fake) as client:
                fake.inject(method="POST", path=BATCHES, status=None, drop=True, times=1)
                with pytest.raises(pa.OutcomeUnknownError):
                    await client.batches.create(name="b", workspace_id=fake.workspace_id,
                                                task_details=DETAILS)
    assert caplog.records and SECRET not in caplog.text


# -- error messages say a reason once ---------------------------------------------------------

async def test_an_error_title_that_repeats_the_reason_is_said_once(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific,
) -> None:
    fake_prolific.inject(method="GET", path=BATCHES, status=400, body={
        "error": {"title": "Bad Request", "detail": "workspace_id is invalid"}}, times=1)
    with pytest.raises(pa.BadRequestError) as caught:
        await prolific_client.batches.list(workspace_id=fake_prolific.workspace_id)
    assert str(caught.value).startswith("400 Bad Request: workspace_id is invalid (GET ")
    assert str(caught.value).count("Bad Request") == 1


# -- an unknown status is logged once per client, not once per job ----------------------------

async def test_an_unknown_status_is_logged_once_per_client(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific, caplog: pytest.LogCaptureFixture,
) -> None:
    ds = await ready_dataset(prolific_client, fake_prolific)
    batches = [await new_batch(prolific_client, fake_prolific, ds, name=f"b{n}")
               for n in range(5)]
    fake_prolific.inject(method="GET", path="*/status", status=200, body={"status": "ARCHIVING"})
    short = pa.PollPolicy(initial=0.01, ceiling=0.02, deadline=0.1)
    with caplog.at_level(logging.WARNING):
        async with pa.watch_many(prolific_client.batches.watch(b.id, poll=short)
                                 for b in batches) as stream:
            failures = [e async for e in stream if isinstance(e, pa.WatchFailure)]
    assert len(failures) == 5 and all(isinstance(f.error, pa.PollTimeout) for f in failures)
    assert caplog.text.count("ARCHIVING") == 1


# -- fields the SDK does not know yet ---------------------------------------------------------

async def test_extra_fields_reach_the_body_and_clashes_are_refused(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific,
) -> None:
    ds = await prolific_client.datasets.create(name="d", workspace_id=fake_prolific.workspace_id,
                                               extra={"labels": ["new"]})
    await prolific_client.batches.create(name="b", workspace_id=fake_prolific.workspace_id,
                                         dataset_id=ds.id, task_details=DETAILS,
                                         extra={"priority": "high"})
    bodies = [r.json for r in fake_prolific.requests_to("POST", "*/data-collection/*")]
    assert bodies[0]["labels"] == ["new"] and bodies[1]["priority"] == "high"
    with pytest.raises(ValueError, match=r"extra repeats field.*name"):
        await prolific_client.batches.create(name="b", workspace_id=fake_prolific.workspace_id,
                                             task_details=DETAILS, extra={"name": "other"})
    assert len(fake_prolific.requests_to("POST", "*/data-collection/*")) == 2


# -- models to JSON and back ------------------------------------------------------------------

def test_to_json_and_from_json_round_trip_a_layout() -> None:
    layout = pa.one_page([
        pa.MultipleChoice(description="Which?", answer_limit=1,
                          options=[pa.Option(label="A", value="a"),
                                   pa.Option(label="B", value="b")], extra={"hint": "new"}),
        pa.FreeText(description="Why?"),
    ])
    data = pa.to_json(layout)
    assert data[0]["rows"][0]["columns"][0]["items"][0]["hint"] == "new"
    assert data[0]["rows"][0]["columns"][0]["items"][1] == {"type": "free_text",
                                                            "description": "Why?"}
    assert pa.from_json(list[pa.BatchPage], data) == layout


def test_from_json_says_what_does_not_fit() -> None:
    with pytest.raises(ValueError, match=r"not a valid FreeText: missing required field "
                                         r"'description' \(fields it does not have: 'descr'\)"):
        pa.from_json(pa.Item, {"type": "free_text", "descr": "?"})
    with pytest.raises(ValueError, match=r"item 0 \(multiple_choice\): .*answer_limit 3"):
        pa.from_json(list[pa.Item], [{"type": "multiple_choice", "description": "?",
                                      "answer_limit": 3,
                                      "options": [{"label": "A", "value": "a"}]}])
    unknown = pa.from_json(pa.Item, {"type": "ranking", "description": "?"})
    assert isinstance(unknown, pa.UnknownItem) and unknown.type == "ranking"


# -- a cap on the polls of every watch together -----------------------------------------------

async def test_max_poll_rate_keeps_many_watches_polling_flat() -> None:
    async with FakeProlific(clock=FakeClock(speed=0, per_request=0.1), seed=4) as fake:
        async with fast(fake, max_poll_rate=40) as client:
            assert client.max_poll_rate == 40
            ds = await ready_dataset(client, fake)
            batches = [await new_batch(client, fake, ds, name=f"b{n}") for n in range(10)]
            for batch in batches:
                await client.batches.setup(batch.id)
            async with pa.watch_many(client.batches.watch(b.id) for b in batches) as stream:
                finals = {e.resource_id: e.current async for e in stream
                          if isinstance(e, pa.Transition)}
            client.max_poll_rate = None
            assert client.max_poll_rate is None
    assert set(finals.values()) == {"READY"}
    polls = [r.at for r in fake.requests_to("GET", "*/status")]
    # Ten watches polling every 5-20 ms would send hundreds a second; the cap spaces them.
    assert len(polls) >= 20
    assert (len(polls) - 1) / (polls[-1] - polls[0]) <= 40 * 1.1


@pytest.mark.parametrize("rate", [0, -1, float("nan"), True, "10"])
def test_a_bad_max_poll_rate_is_a_clear_error(rate: object) -> None:
    with pytest.raises(pa.ConfigurationError, match="max_poll_rate must be a number > 0"):
        pa.Prolific("t", base_url="http://127.0.0.1:1", max_poll_rate=rate)  # type: ignore[arg-type]
