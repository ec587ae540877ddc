"""The sans-IO half of polling: status categories and delays, with no network at all."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import prolific_async as pa
from prolific_async._jobs import KINDS, Category, categorize
from prolific_async._polling import HINT_CEILINGS, MIN_DELAY, next_delay

EXPECTED = {
    "dataset": ({"UNINITIALISED", "PROCESSING"}, {"READY"}, {"ERROR"}),
    "batch": ({"UNINITIALISED", "PROCESSING"}, {"READY"}, {"ERROR"}),
    "dataset_import": ({"uninitialised", "queued", "processing"}, {"complete", "partial"},
                       {"failed", "pending_schema"}),
    "batch_export": ({"generating"}, {"complete"}, {"failed"}),
    "collection_export": ({"generating"}, {"complete"}, {"failed"}),
    "batch_sync": ({"queued", "processing"}, {"complete"}, {"failed"}),
    "study": ({"UNPUBLISHED", "SCHEDULED", "ACTIVE", "PAUSED"},
              {"AWAITING REVIEW", "COMPLETED"}, set()),
    "bulk_approval": ({"APPROVING"}, {"APPROVED", "PARTLY APPROVED"}, set()),
    "bonus_pay": ({"UNSEEN", "PARTLY SEEN"}, {"PAID"}, set()),
    "schema_migration": ({"queued", "processing"}, {"complete", "partial"}, {"failed"}),
}


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_every_status_of_every_kind(kind: str) -> None:
    pending, done, failed = EXPECTED[kind]
    for status in pending:
        assert categorize(kind, status) is Category.PENDING
    for status in done:
        assert categorize(kind, status) is Category.DONE
    for status in failed:
        assert categorize(kind, status) is Category.FAILED
    for status in ("ARCHIVED", "", "ready", "Complete"):
        assert categorize(kind, status) is Category.UNKNOWN
    # study_submissions reads its target from the status: tests/test_watch_submissions.py.
    assert set(KINDS) == set(EXPECTED) | {"study_submissions"}


@pytest.mark.parametrize(("enum", "kind"), [
    (pa.DatasetStatus, "dataset"), (pa.BatchStatus, "batch"),
    (pa.ImportStatus, "dataset_import"), (pa.ExportStatus, "batch_export"),
    (pa.SyncStatus, "batch_sync"), (pa.StudyStatus, "study"),
    (pa.MigrationStatus, "schema_migration"),
])
def test_every_enum_member_has_a_category(enum: type[pa.DatasetStatus], kind: str) -> None:
    for member in enum:
        assert categorize(kind, member.value) is not Category.UNKNOWN


policies = st.builds(
    pa.PollPolicy,
    initial=st.floats(0.001, 10),
    multiplier=st.floats(1.0, 4.0),
    ceiling=st.floats(10, 600),
    jitter=st.floats(0, 0.5),
)


@given(policies, st.integers(0, 10_000), st.floats(0, 1, exclude_max=True))
def test_delay_stays_within_bounds(policy: pa.PollPolicy, attempt: int, spread: float) -> None:
    delay = next_delay(policy, attempt, spread=spread)
    assert MIN_DELAY <= delay <= policy.ceiling
    base = min(policy.initial * policy.multiplier ** min(attempt, 200), policy.ceiling)
    assert delay >= base * (1 - policy.jitter) - 1e-9


@given(policies, st.integers(0, 100), st.floats(0, 1, exclude_max=True),
       st.floats(0, 1e6))
def test_server_hint_is_obeyed_within_bounds(policy: pa.PollPolicy, attempt: int,
                                             spread: float, hint: float) -> None:
    delay = next_delay(policy, attempt, hint=hint, spread=spread)
    assert delay >= min(hint, policy.ceiling * HINT_CEILINGS)
    assert delay <= max(policy.ceiling * HINT_CEILINGS, MIN_DELAY)


@given(policies, st.floats(0, 1, exclude_max=True))
def test_delays_grow_until_the_ceiling(policy: pa.PollPolicy, spread: float) -> None:
    delays = [next_delay(policy, n, spread=spread) for n in range(60)]
    jitter_free = [min(policy.initial * policy.multiplier ** n, policy.ceiling) for n in range(60)]
    assert jitter_free == sorted(jitter_free)
    assert all(abs(d - min(j * (1 + policy.jitter * (2 * spread - 1)), policy.ceiling)) < 1e-6
               or d == MIN_DELAY for d, j in zip(delays, jitter_free, strict=True))


def test_default_policy_shape() -> None:
    policy = pa.PollPolicy()
    assert next_delay(policy, 0, spread=0.5) == policy.initial
    assert next_delay(policy, 100, spread=0.99) == policy.ceiling
    assert policy.deadline == 15 * 60


@pytest.mark.parametrize("bad", [
    {"initial": 0}, {"ceiling": -1}, {"multiplier": 0.5}, {"jitter": 0.9}, {"deadline": 0},
    {"initial": 10, "ceiling": 1}, {"max_poll_errors": -1},
])
def test_bad_policies_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each names its field; any field may fail
        pa.PollPolicy(**bad)
