"""Fewer garbage collections while a run is under way: `fewer_collections`.

A run keeps hundreds of requests in flight. Each holds some sixty container objects (the
request, the answer, their headers, futures, timers, the coroutines awaiting them) for a
few turns of the event loop, so the set of live objects swings by thousands between turns.
CPython starts a young-generation collection whenever the live containers grew by 700
since the last one (``gc.get_threshold()[0]``): with a run of 1,000 plans that was about
1,200 collections, most of whose objects were still in flight and went on to the older
generations, and those were then collected again, with the whole heap, every few seconds.
The collector took about a fifth of the client's CPU (`benchmarks/orchestrate.py`).

While at least one run is open, the young generation's threshold is at least `THRESHOLD`:
a collection then comes after the heap grew by 50,000 containers, not after every swing of
the in-flight set. Cyclic garbage still gets collected, a little later (at most 50,000 more
containers wait for it: a few megabytes). The older generations' thresholds are kept, a
threshold already higher is kept, and a collector that was disabled (or set to 0) is left
so. When the last run ends the threshold it found is restored, unless someone changed it
during the run (theirs is kept). ``orchestrate(tune_gc=False)`` leaves the collector alone.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["THRESHOLD", "fewer_collections"]

#: The young generation's threshold while a run is open (CPython's default is 700).
THRESHOLD = 50_000

_lock = threading.Lock()
_open = 0
#: (the thresholds found, the ones set), while runs are open and this module changed them.
_changed: tuple[tuple[int, int, int], tuple[int, int, int]] | None = None


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Raise the young generation's threshold to `THRESHOLD` while the block runs (counted
    across runs in the process: the last one out restores it).

    Example::

        with fewer_collections():
            ...  # many requests in flight
    """
    _enter()
    try:
        yield
    finally:
        _exit()


def _enter() -> None:
    global _open, _changed
    with _lock:
        _open += 1
        if _open > 1 or not gc.isenabled():
            return
        found = gc.get_threshold()
        if found[0] == 0 or found[0] >= THRESHOLD:  # collection off, or already rarer
            return
        gc.set_threshold(THRESHOLD, *found[1:])
        _changed = (found, gc.get_threshold())


def _exit() -> None:
    global _open, _changed
    with _lock:
        _open -= 1
        if _open or _changed is None:
            return
        found, ours = _changed
        _changed = None
        if gc.get_threshold() == ours:  # nobody else changed it meanwhile
            gc.set_threshold(*found)
