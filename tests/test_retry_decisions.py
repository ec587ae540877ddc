"""`decide`, the one retry rule for API calls and storage transfers, without I/O or a clock."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

import prolific_async as pa
from prolific_async._errors import error_for_status
from prolific_async._retrying import API, STORAGE, classify, decide

REQUEST = pa.RequestInfo("POST", "/api/v1/data-collection/batches")
POLICY = pa.RetryPolicy(attempts=5, wait_initial=0.5, wait_max=20, max_retry_after=60)

statuses = st.sampled_from([400, 401, 403, 404, 409, 422, 429, 500, 502, 503, 504])
hints = st.none() | st.floats(0, 120)


def answer(status: int, hint: float | None = None) -> pa.APIStatusError:
    error = error_for_status(status, "", None, REQUEST)
    error.retry_after = hint
    return error


def storage_answer(status: int, hint: float | None = None) -> pa.StorageError:
    return pa.StorageError(f"storage answered {status}", status_code=status, retry_after=hint)


def connection(*, timeout: bool = False) -> pa.APIConnectionError:
    cls = pa.APITimeoutError if timeout else pa.APIConnectionError
    return cls("no answer", request=REQUEST)


failures = st.one_of(
    st.builds(answer, statuses, hints),
    st.builds(storage_answer, statuses, hints),
    st.builds(connection, timeout=st.booleans()),
    st.just(pa.OutcomeUnknownError("lost", request=REQUEST)),
)


@given(error=failures, attempt=st.integers(1, 50), idempotent=st.booleans(),
       budget_left=st.booleans(), spread=st.floats(0, 1, exclude_max=True))
def test_a_retry_waits_within_the_backoff_or_the_servers_hint_and_never_breaks_a_rule(
    error: Exception, attempt: int, idempotent: bool, budget_left: bool, spread: float,
) -> None:
    decision = decide(error, attempt, idempotent=idempotent, budget_left=budget_left,
                      policy=POLICY, spread=spread)
    if decision is None:
        return
    status = getattr(error, "status_code", None)
    assert attempt < POLICY.attempts and budget_left
    assert not isinstance(error, pa.OutcomeUnknownError)  # a lost create is never repeated
    assert status in (None, 429, 500, 502, 503, 504)
    if not idempotent:
        assert status in (None, 429)  # only what provably did nothing is sent again
    hint = getattr(error, "retry_after", None)
    if hint is not None:
        assert decision.delay == hint <= POLICY.max_retry_after
    else:
        assert 0 <= decision.delay <= min(POLICY.wait_max, 0.5 * 2 ** (attempt - 1))
    assert decision.reason == (str(status) if status is not None else
                               "timeout" if isinstance(error, pa.APITimeoutError)
                               else "connection")


@given(status=st.sampled_from([429, 500, 502, 503, 504]), attempt=st.integers(1, 4))
def test_a_transient_answer_to_a_read_is_retried_until_the_attempts_run_out(
    status: int, attempt: int,
) -> None:
    assert decide(answer(status), attempt, idempotent=True, budget_left=True, policy=POLICY,
                  spread=0.5) is not None
    assert decide(answer(status), POLICY.attempts, idempotent=True, budget_left=True,
                  policy=POLICY, spread=0.5) is None


def test_an_empty_budget_or_a_hint_beyond_the_cap_gives_up_at_once() -> None:
    assert decide(answer(503), 1, idempotent=True, budget_left=False, policy=POLICY,
                  spread=0.5) is None
    assert decide(answer(429, hint=3600), 1, idempotent=True, budget_left=True,
                  policy=POLICY, spread=0.5) is None


def test_storage_errors_follow_the_same_rule_as_api_answers() -> None:
    for status in (403, 404):
        assert decide(storage_answer(status), 1, idempotent=True, budget_left=True,
                      policy=POLICY, spread=0.5) is None
    retry = decide(storage_answer(503, hint=2.0), 1, idempotent=True, budget_left=True,
                   policy=POLICY, spread=0.5)
    assert retry is not None and retry.delay == 2.0 and retry.reason == "503"


def test_a_lost_answer_is_an_outcome_unknown_only_when_repeating_could_act_twice() -> None:
    import asyncio

    import aiohttp

    lost = aiohttp.ServerDisconnectedError()
    upload = classify(lost, REQUEST, unsafe=True, rules=STORAGE)
    assert isinstance(upload, pa.OutcomeUnknownError)
    assert "storage may have kept the file" in str(upload)
    create = classify(lost, REQUEST, unsafe=True, rules=API, summary="name='b'")
    assert isinstance(create, pa.OutcomeUnknownError) and create.body_summary == "name='b'"
    assert type(classify(lost, REQUEST, unsafe=False, rules=API)) is pa.APIConnectionError
    assert type(classify(asyncio.TimeoutError(), REQUEST, unsafe=False,
                         rules=API)) is pa.APITimeoutError
    # A socket that never opened sent nothing: even a create may go again.
    refused = aiohttp.ClientConnectorError(
        aiohttp.client_reqrep.ConnectionKey("h", 1, False, True, None, None, None),
        OSError(111, "refused"))
    assert type(classify(refused, REQUEST, unsafe=True, rules=API)) is pa.APIConnectionError
