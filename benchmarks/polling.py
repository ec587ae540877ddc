"""How fast does a watch see a job finish, and how many requests does it cost?

Jobs lasting 2 s, 30 s, 5 min and 30 min are simulated through the sans-IO core
(``prolific_async._polling.next_delay``) on a virtual clock, so a 30-minute job takes
microseconds and the figures do not depend on this machine's load. Each poll costs
``--latency`` seconds of round trip and reads the job's state when it reaches the server,
half-way; the delay shown runs from the job finishing to the poll that sees it reaching the
server (the answer's trip back adds the same half round trip to both strategies).
The SDK spaces polls start to start; the CLI sleeps 3 s after each answer.

For the default `PollPolicy` (jitter drawn from ``--runs`` seeded generators; medians and
worst cases shown) and for the fixed 3-second polling of Prolific's CLI, it prints the
requests made until the job is seen done and that detection delay.

    python benchmarks/polling.py [--runs 501] [--latency 0.05]

Goals: on the 2 s job, detection delay at most half of fixed 3 s polling's; on the 30 min
job, at most a third of its requests, with detection delay never above the policy ceiling.
"""

from __future__ import annotations

import argparse
import random
import statistics
from collections.abc import Callable

import prolific_async as pa
from prolific_async._polling import next_delay

JOBS = {"2 s": 2.0, "30 s": 30.0, "5 min": 300.0, "30 min": 1800.0}


def simulate(duration: float, gap_after: Callable[[int], float], latency: float, *,
             start_to_start: bool) -> tuple[int, float]:
    """Poll from t=0 until a poll sees the job done: (requests, detection delay)."""
    start, requests = 0.0, 0
    while True:
        requests += 1
        seen_at = start + latency / 2
        if seen_at >= duration:
            return requests, seen_at - duration
        gap = gap_after(requests - 1)
        start += max(gap, latency) if start_to_start else latency + gap


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=501)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    policy = pa.PollPolicy()
    print(f"default PollPolicy: initial {policy.initial} s, x{policy.multiplier}, ceiling "
          f"{policy.ceiling} s, jitter ±{policy.jitter:.0%}; round trip {args.latency} s; "
          f"{args.runs} seeded runs")
    header = (f"{'job':>7} | {'fixed 3 s: requests':>19} {'delay':>7} | "
              f"{'default: requests':>17} {'delay (median/max)':>19} | "
              f"{'requests ratio':>14} {'delay ratio':>11}")
    print(header)
    print("-" * len(header))
    verdicts = []
    for name, duration in JOBS.items():
        fixed_requests, fixed_delay = simulate(duration, lambda _: 3.0, args.latency,
                                               start_to_start=False)
        results = []
        for seed in range(args.runs):
            draw = random.Random(seed).random

            def gap(attempt: int, draw: Callable[[], float] = draw) -> float:
                return next_delay(policy, attempt, spread=draw())

            results.append(simulate(duration, gap, args.latency, start_to_start=True))
        requests = statistics.median(r for r, _ in results)
        delays = [d for _, d in results]
        delay, worst = statistics.median(delays), max(delays)
        print(f"{name:>7} | {fixed_requests:>19} {fixed_delay:>6.2f}s | {requests:>17.0f} "
              f"{delay:>9.2f}s /{worst:>6.2f}s | {requests / fixed_requests:>14.2f} "
              f"{delay / fixed_delay:>11.2f}")
        if name == "2 s":
            verdicts.append(("2 s job: median delay <= half of fixed 3 s",
                             delay <= fixed_delay / 2))
        if name == "30 min":
            verdicts.append(("30 min job: requests <= a third of fixed 3 s",
                             requests <= fixed_requests / 3))
            verdicts.append((f"30 min job: worst delay <= ceiling ({policy.ceiling} s)",
                             worst <= policy.ceiling))
    for goal, met in verdicts:
        print(f"{'met ' if met else 'MISSED'} {goal}")


if __name__ == "__main__":
    main()
