"""While a run is open the collector looks at young objects rarely; after it, as it did."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

import prolific_async as pa
from prolific_async.orchestration._collector import THRESHOLD, fewer_collections
from prolific_async.testing import FakeClock, FakeProlific

from .orchestration import client_for, plan

DEFAULT = (700, 10, 10)


@pytest.fixture(autouse=True)
def thresholds() -> Iterator[None]:
    """Each test starts from CPython's defaults and leaves the process as it found it."""
    found, enabled = gc.get_threshold(), gc.isenabled()
    gc.set_threshold(*DEFAULT)
    try:
        yield
    finally:
        gc.set_threshold(*found)
        (gc.enable if enabled else gc.disable)()


@pytest.mark.anyio
@pytest.mark.parametrize("tune_gc", [True, False])
async def test_a_run_raises_the_young_threshold_and_gives_it_back(tune_gc: bool) -> None:
    seen: list[tuple[int, int, int]] = []
    async with FakeProlific(clock=FakeClock(speed=0, per_request=0.25)) as fake, \
            client_for(fake) as client:
        plans = [plan(f"gc-{n}", fake.workspace_id) for n in range(2)]
        async with pa.orchestrate(client, plans, tune_gc=tune_gc) as run:
            async for _ in run:
                seen.append(gc.get_threshold())
        results = run.results

    assert all(result.ok for result in results), [r.error for r in results]
    during = (THRESHOLD, 10, 10) if tune_gc else DEFAULT
    assert seen and set(seen) == {during}
    assert gc.get_threshold() == DEFAULT


def test_overlapping_runs_restore_when_the_last_one_ends() -> None:
    first, second = fewer_collections(), fewer_collections()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert gc.get_threshold() == (THRESHOLD, 10, 10)
    second.__exit__(None, None, None)
    assert gc.get_threshold() == DEFAULT


def test_a_threshold_changed_during_the_run_is_kept() -> None:
    with fewer_collections():
        gc.set_threshold(2_000, 20, 20)  # the program's own choice, made meanwhile
    assert gc.get_threshold() == (2_000, 20, 20)


@pytest.mark.parametrize("young", [0, THRESHOLD * 2])
def test_a_collector_set_off_or_rarer_is_left_alone(young: int) -> None:
    gc.set_threshold(young, 10, 10)
    with fewer_collections():
        assert gc.get_threshold() == (young, 10, 10)
    assert gc.get_threshold() == (young, 10, 10)


def test_a_disabled_collector_is_left_alone() -> None:
    gc.disable()
    with fewer_collections():
        assert gc.get_threshold() == DEFAULT
    assert gc.get_threshold() == DEFAULT and not gc.isenabled()


def test_an_error_in_the_block_still_restores() -> None:
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("boom")
    assert gc.get_threshold() == DEFAULT
