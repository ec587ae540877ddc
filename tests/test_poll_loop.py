"""The watch's decisions, with no server and no clock: a `PollLoop` fed statuses and errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import prolific_async as pa
from prolific_async._jobs import KINDS, Category
from prolific_async._polling import PollLoop, ResumeToken

POLICY = pa.PollPolicy(initial=1, ceiling=10, deadline=100, max_poll_errors=2)
REQUEST = pa.RequestInfo("GET", "/x")


def loop(kind: str = "batch", **kwargs: object) -> PollLoop:
    return PollLoop(job=KINDS[kind], ids=("b-1",), policy=POLICY, started_at=0.0,
                    **kwargs)  # type: ignore[arg-type]


def status_error(code: int) -> pa.APIStatusError:
    return pa.APIStatusError(f"{code}", status_code=code, body=None, detail="", request=REQUEST)


def test_a_change_is_reported_once_and_the_terminal_status_ends() -> None:
    state = loop()
    first = state.on_status("PROCESSING", now=1)
    assert first.changed and first.previous is None and not first.done and first.error is None
    assert not state.on_status("PROCESSING", now=2).changed
    last = state.on_status("READY", now=3)
    assert last.changed and last.previous == "PROCESSING" and last.done
    assert last.category is Category.DONE and state.attempt == 3


def test_error_status_fails_with_the_remedy() -> None:
    step = loop().on_status("ERROR", now=1)
    assert isinstance(step.error, pa.ResourceFailed)
    assert "check the batch's dataset and instructions" in str(step.error)


def test_not_started_only_matters_to_a_wait_on_its_first_poll() -> None:
    assert loop().on_status("UNINITIALISED", now=1).error is None
    waiting = loop(expect_started=True)
    error = waiting.on_status("UNINITIALISED", now=1).error
    assert isinstance(error, pa.JobNotStarted) and "client.batches.setup" in str(error)
    later = loop(expect_started=True)
    later.on_status("PROCESSING", now=1)
    assert later.on_status("UNINITIALISED", now=2).error is None


def test_transient_errors_are_tolerated_up_to_the_limit() -> None:
    state = loop()
    assert state.on_error(status_error(503), now=1, budget_left=True) is None
    assert state.on_error(pa.APITimeoutError("t", request=REQUEST), now=2,
                          budget_left=True) is None
    given_up = state.on_error(status_error(502), now=3, budget_left=True)
    assert isinstance(given_up, pa.PollError) and "3 poll errors in a row" in str(given_up)
    assert isinstance(given_up.__cause__, pa.APIStatusError)


def test_an_answer_resets_the_error_count() -> None:
    state = loop()
    for now in range(10):
        assert state.on_error(status_error(500), now=now, budget_left=True) is None
        state.on_status("PROCESSING", now=now)


def test_a_spent_budget_or_a_lasting_error_gives_up_at_once() -> None:
    assert "retry budget spent" in str(loop().on_error(status_error(503), now=1,
                                                       budget_left=False))
    not_found = status_error(404)
    assert loop().on_error(not_found, now=1, budget_left=True) is not_found


def test_the_deadline_gives_a_timeout_with_a_resume_token() -> None:
    state = loop(timeout_hint="; move the clock")
    state.on_status("PROCESSING", now=50)
    step = state.on_status("PROCESSING", now=100)
    assert isinstance(step.error, pa.PollTimeout)
    assert str(step.error).endswith("; move the clock")
    assert ResumeToken.from_json(step.error.resume_token) == ResumeToken(
        kind="batch", ids=("b-1",), status="PROCESSING", attempt=2)


def test_a_429_hint_stretches_the_delay() -> None:
    state = loop()
    limited = pa.RateLimitError("429", status_code=429, body=None, detail="", request=REQUEST)
    limited.retry_after = 7
    assert state.next_poll_at(10, 10.1, spread=0.5, error=limited) == 17
    assert state.next_poll_at(10, 10.1, spread=0.5, error=status_error(503)) == 11


@given(kind=st.sampled_from(sorted(KINDS)), ids=st.lists(st.text(min_size=1), min_size=1,
                                                         max_size=3),
       status=st.none() | st.text(), attempt=st.integers(0, 10_000))
def test_resume_tokens_round_trip(kind: str, ids: list[str], status: str | None,
                                  attempt: int) -> None:
    token = ResumeToken(kind=kind, ids=tuple(ids), status=status, attempt=attempt)
    assert ResumeToken.from_json(token.to_json()) == token


@pytest.mark.parametrize("bad", [None, [], {"v": 2, "kind": "batch", "ids": ["a"]},
                                 {"v": 1, "kind": "batch", "ids": []},
                                 {"v": 1, "kind": "batch", "ids": ["a"], "attempt": -1},
                                 {"v": 1, "kind": 3, "ids": ["a"]}])
def test_bad_resume_tokens_are_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="resume token"):
        ResumeToken.from_json(bad)


def test_a_429_with_retry_after_is_pacing_not_an_error_in_a_row_nor_a_cost_to_the_budget() -> None:
    state = loop()
    refusal = status_error(429)
    refusal.retry_after = 1.0
    for now in range(1, 20):  # far more than max_poll_errors, and no budget left
        assert state.on_error(refusal, now=now, budget_left=False) is None
    assert state.errors == 0
    late = state.on_error(refusal, now=10_000, budget_left=False)
    assert isinstance(late, pa.PollTimeout) and late.__cause__ is refusal
    bare = status_error(429)  # no Retry-After: an error like a 503
    assert isinstance(state.on_error(bare, now=2, budget_left=False), pa.PollError)
