"""How much CPU does turning an API answer into a model cost?

Structures the same JSON body into its model N times, three ways, in one run:

- ``json.loads`` of the body's bytes: the baseline, the work a bare aiohttp user already
  pays for (``resp.json()``), so the ratio says what the model costs on top of that;
- ``converter.structure(data, Batch)``: cattrs' generic entry point (a dispatch per call);
- ``structure_fn(Batch)(data)``: the cached hook the transport and resources call.

Bodies: ``batch_get_200.json`` (the Prolific CLI's test body for GET /batches/{id}, what
``batches.get`` returns) and the same batch carrying a one-page layout (``batch_items``).

    python benchmarks/structure.py [--calls 100000] [--rounds 5]

The ratio (model cost / JSON parse cost) is comparable across machines: run this script on
two versions of the SDK to compare them. Goal: the plain Batch, read by ``structure_fn``,
within 1.5x of its ``json.loads``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import prolific_async as pa
from prolific_async import _converter

EXAMPLES = Path(__file__).resolve().parent.parent / "tests" / "examples"


def per_second(fn: Callable[[], Any], calls: int, rounds: int) -> float:
    """The median over ``rounds`` of calls per CPU second."""
    rates = []
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(calls):
            fn()
        rates.append(calls / (time.process_time() - started))
    return statistics.median(rates)


def bodies() -> dict[str, dict[str, Any]]:
    batch = json.loads((EXAMPLES / "cli-tests-transcribed" / "batch_get_200.json").read_text())
    layout = json.loads((EXAMPLES / "cli-docs-examples" / "batch-items.json").read_text())
    return {"batch_get_200.json": batch,
            "batch_get_200.json + batch_items": {**batch, "batch_items": layout}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    converter = _converter.converter
    # Older versions of the SDK have no cached entry point: measure what they offered.
    structure_fn = getattr(_converter, "structure_fn", None)
    for name, data in bodies().items():
        raw = json.dumps(data).encode()
        assert converter.structure(data, pa.Batch).id == data["id"]

        def loads(raw: bytes = raw) -> Any:
            return json.loads(raw)

        def generic(data: Any = data) -> Any:
            return converter.structure(data, pa.Batch)

        baseline = per_second(loads, args.calls, args.rounds)
        rate = per_second(generic, args.calls, args.rounds)
        print(f"{name}: {args.calls} calls x {args.rounds} rounds (median ops per CPU second)")
        print(f"  json.loads (baseline)        : {baseline:10.0f} ops/s")
        print(f"  converter.structure(., Batch): {rate:10.0f} ops/s  "
              f"ratio to baseline {baseline / rate:.2f}")
        if structure_fn is not None:
            cached = structure_fn(pa.Batch)

            def direct(data: Any = data, fn: Any = cached) -> Any:
                return fn(data)

            rate = per_second(direct, args.calls, args.rounds)
            print(f"  structure_fn(Batch)(.)       : {rate:10.0f} ops/s  "
                  f"ratio to baseline {baseline / rate:.2f}")

if __name__ == "__main__":
    main()
