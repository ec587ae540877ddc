"""How much faster is `orchestrate` than the way Prolific's docs drive batches, and at what cost?

A fake server (its own process; real-time clock; 1 s of dataset processing, batch setup,
export generation and time between participants' submissions) serves, one after the other
(each side on a fresh fake):

(a) N plans through ``pa.orchestrate`` with a journal: dataset from a CSV, one-page layout,
    setup, a study of one place published and waited for, export downloaded;
(b) the same pipeline written as Prolific's docs and notebooks do it: synchronous
    ``requests`` (``http.client`` if it is not installed), polling every 3 s, one plan per
    thread of a ``ThreadPoolExecutor(32)``.

Each side runs in a fresh process, so its peak memory (max RSS) is its own. (a) runs
``--repeat`` times (3), each on a fresh fake, and the speed-up is the median's: on a shared
machine one run moves by ±10 % with the other tenants' load; (b) sleeps 3 s between polls
and runs once. It prints wall time, requests sent (API and storage), peak memory, the
ratios, and the status-poll requests per second in the busiest second; then (a) again with
100 plans, to show that figure stays flat as plans grow. The finished run (a) is run again,
with its journal and with none: the requests per plan a rerun costs (the server is looked at
first, so nothing is created again either way). Last, (a) runs against a fake that answers
429 beyond ``--rate-limit`` requests a second (150), where the client's adaptive poll rate
must keep the 429s rare and still finish every plan.

    python benchmarks/orchestrate.py [--plans 1000] [--quick]    # --quick: 200 plans
    python benchmarks/orchestrate.py --part limited     # only the rate-limited run (or: speed)

With ``--journal postgresql://… [--workers 1,2,4]`` it answers another question instead: the
same plans run by one process on the SQLite journal, then by 1, 2 and 4 worker processes
sharing the PostgreSQL journal (each in a new database of that server): wall time, requests
and database round trips per plan.

Goals: (a) at least 30x faster than (b) with fewer requests per plan; under 300 MB peak for
1,000 plans; status polls per second at the peak about the same for 100 and 1,000 plans;
under the rate limit every plan done with at most 5 % of requests answered 429.
"""

from __future__ import annotations

import argparse
import collections
import json
import multiprocessing
import os
import re
import resource
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import anyio

import prolific_async as pa
from prolific_async.testing import FakeClock, FakeProlific

DC = "/api/v1/data-collection"
#: GETs that only ask "is it done yet?".
STATUS_POLL = re.compile(r"/status$|/export/[^/]+$|/studies/[^/]+/?$|/batches/?$")
DETAILS = {"task_name": "Rate", "task_introduction": "<p>Read</p>", "task_steps": "<p>Rate</p>"}
QUESTION = {"type": "free_text", "description": "Why?"}
POLL_SECONDS = 3.0


def serve(queue: Any, stop: Any, rate_limit: float | None = None) -> None:
    async def main() -> None:
        async with FakeProlific(clock=FakeClock(speed=1.0), dataset_processing=1.0,
                                batch_setup=1.0, export_generating=1.0,
                                submission_interval=1.0, record=False,
                                rate_limit=rate_limit) as fake:
            queue.put((fake.url, fake.token, fake.workspace_id))
            await anyio.to_thread.run_sync(stop.wait)

    anyio.run(main)


class PollMeter:
    """Requests sent, and status polls per wall-clock second."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.requests = 0
        self.polls: collections.Counter[int] = collections.Counter()
        self.kinds: collections.Counter[tuple[int, str]] = collections.Counter()
        self._lock = threading.Lock()

    def count(self, method: str, path: str) -> None:
        with self._lock:
            self.requests += 1
            if method == "GET" and STATUS_POLL.search(path):
                second = int(time.monotonic() - self.started)
                self.polls[second] += 1
                kind = ("export" if "/export/" in path else "study" if "/studies/" in path
                        else "dataset" if "/datasets/" in path else "batch")
                self.kinds[second, kind] += 1

    def per_kind(self) -> dict[str, int]:
        """Status polls sent, by kind of job (batches: the shared list's reads)."""
        totals: collections.Counter[str] = collections.Counter()
        for (_, kind), count in self.kinds.items():
            totals[kind] += count
        return dict(totals)

    def peak(self) -> int:
        return max(self.polls.values(), default=0)

    def peak_kinds(self) -> str:
        """What the busiest second polled."""
        if not self.polls:
            return ""
        second = max(self.polls, key=self.polls.__getitem__)
        return ", ".join(f"{n} {kind}" for (at, kind), n in sorted(self.kinds.items())
                         if at == second)


def finish(queue: Any, started: float, meter: PollMeter, done: int, extra: dict[str, Any]
           ) -> None:
    queue.put({"seconds": time.monotonic() - started, "requests": meter.requests,
               "peak_polls": meter.peak(), "peak_kinds": meter.peak_kinds(),
               "polls_by_kind": meter.per_kind(), "done": done,
               "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **extra})


# -- (a) orchestrate -----------------------------------------------------------------------------


def side_orchestrate(queue: Any, url: str, token: str, workspace_id: str, plans: int,
                     folder: str, poll_rate: float | None = None, prefix: str = "bench",
                     reruns: bool = False, shared: str | None = None, go: Any = None
                     ) -> None:
    async def main() -> None:
        meter = PollMeter()

        def on_request(event: pa.RequestEvent) -> None:  # each attempt, storage ones too
            meter.count(event.method, urlsplit(event.path).path)

        csv = Path(folder) / "data.csv"
        csv.write_text("prompt,response\n" + "".join(f"p{i},r{i}\n" for i in range(4)))
        details = pa.TaskDetails(task_name=DETAILS["task_name"],
                                 task_introduction=DETAILS["task_introduction"],
                                 task_steps=DETAILS["task_steps"])
        todo = [pa.BatchPlan(
            name=f"{prefix}-{n}", workspace_id=workspace_id, dataset=csv,
            task_details=details, instructions=[pa.FreeText(description="Why?")],
            study=pa.StudyPlan(description="Rate", reward=10, places=1, estimated_minutes=1,
                               publish=True, wait_for="complete"),
            export_to=Path(folder) / "out") for n in range(plans)]
        if go is not None:  # workers sharing a journal start together
            await anyio.to_thread.run_sync(go.wait)
        started = time.monotonic()
        meter.started = started
        # Requests counted by the client's own hook (an aiohttp trace config costs more).
        async with pa.Prolific(token, base_url=url, on_request=on_request) as client:
            rate: dict[str, Any] = {} if poll_rate is None else {"poll_rate": poll_rate}
            async with pa.orchestrate(client, todo, concurrency=plans,
                                      journal=shared or Path(folder) / "run.db",
                                      **rate) as run:
                results = await run.wait()
            seconds, first = time.monotonic() - started, meter.requests
            # The figures are the first run's: the reruns' lookups are counted apart.
            polls, kinds = meter.polls.copy(), meter.kinds.copy()
            again: dict[str, Any] = {}
            # A finished run, run again: with its journal, then with none (the server is
            # the truth: the lookups find everything, nothing is created again).
            for label, journal in (("journal", Path(folder) / "run.db"), ("none", None)):
                if reruns:
                    before = meter.requests
                    async with pa.orchestrate(client, todo, concurrency=plans,
                                              journal=journal, **rate) as rerun:
                        redone = await rerun.wait()
                    again[f"rerun_{label}"] = meter.requests - before
                    again[f"rerun_{label}_failed"] = sum(not r.ok for r in redone)
        failed = [r for r in results if not r.ok]
        meter.requests, meter.polls, meter.kinds = first, polls, kinds
        finish(queue, started, meter, len(results) - len(failed),
               {"errors": [repr(r.error) for r in failed[:3]],
                "rate_limited": client.stats.rate_limited, **again})
        queue.put(seconds)

    anyio.run(main)


# -- (b) the docs' way ---------------------------------------------------------------------------


class Http:
    """The slice of a ``requests.Session`` the docs' code uses (``http.client`` fallback)."""

    def __init__(self, meter: PollMeter) -> None:
        self.meter = meter
        try:
            import requests
        except ImportError:  # pragma: no cover - the fallback
            self._session: Any = None
        else:
            self._session = requests.Session()

    def call(self, method: str, url: str, *, headers: dict[str, str] | None = None,
             json_body: Any = None, data: bytes | None = None) -> tuple[int, bytes]:
        self.meter.count(method, urlsplit(url).path)
        if self._session is not None:
            resp = self._session.request(method, url, headers=headers, json=json_body, data=data)
            return resp.status_code, resp.content
        import http.client

        parts = urlsplit(url)
        conn = http.client.HTTPConnection(parts.netloc)
        body = json.dumps(json_body).encode() if json_body is not None else data
        send = dict(headers or {})
        if json_body is not None:
            send["Content-Type"] = "application/json"
        conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), body, send)
        answer = conn.getresponse()
        content = answer.read()
        conn.close()
        return answer.status, content


def docs_pipeline(http: Http, url: str, token: str, workspace_id: str, name: str, csv: bytes,
                  out: Path) -> None:
    auth = {"Authorization": f"Token {token}"}

    def api(method: str, path: str, body: Any = None) -> Any:
        status, content = http.call(method, url + path, headers=auth, json_body=body)
        if status >= 300:
            raise RuntimeError(f"{method} {path}: {status} {content[:200]!r}")
        return json.loads(content) if content else None

    def wait(path: str, done: tuple[str, ...], key: str = "status") -> Any:
        while True:  # the notebooks' loop: ask, and sleep a fixed interval if not done
            answer = api("GET", path)
            if answer[key] in done:
                return answer
            if answer[key] in ("ERROR", "failed"):
                raise RuntimeError(f"{path} failed")
            time.sleep(POLL_SECONDS)

    dataset = api("POST", f"{DC}/datasets", {"name": name, "workspace_id": workspace_id})
    upload = api("GET", f"{DC}/datasets/{dataset['id']}/upload-url/data.csv")
    http.call("PUT", upload["upload_url"], headers={"Content-Type": "text/csv"}, data=csv)
    wait(f"{DC}/datasets/{dataset['id']}/status", ("READY",))
    batch = api("POST", f"{DC}/batches", {
        "name": name, "workspace_id": workspace_id, "task_details": DETAILS,
        "dataset_id": dataset["id"],
        "batch_items": [{"rows": [{"columns": [{"items": [QUESTION]}]}]}]})
    api("POST", f"{DC}/batches/{batch['id']}/setup", {"tasks_per_group": 1})
    wait(f"{DC}/batches/{batch['id']}/status", ("READY",))
    study = api("POST", "/api/v1/studies/", {
        "name": name, "internal_name": name, "description": "Rate",
        "data_collection_method": "AI_TASK_BUILDER_BATCH", "data_collection_id": batch["id"],
        "reward": 10, "total_available_places": 1, "estimated_completion_time": 1,
        "prolific_id_option": "not_required"})
    api("POST", f"/api/v1/studies/{study['id']}/transition/", {"action": "PUBLISH"})
    wait(f"/api/v1/studies/{study['id']}/", ("AWAITING REVIEW", "COMPLETED"))
    api("GET", f"{DC}/batches/{batch['id']}/responses")
    job = api("POST", f"{DC}/batches/{batch['id']}/export")
    if job["status"] != "complete":
        job = wait(f"{DC}/batches/{batch['id']}/export/{job['export_id']}", ("complete",))
    status, content = http.call("GET", job["url"])
    if status != 200:
        raise RuntimeError(f"download: {status}")
    (out / f"{batch['id']}.zip").write_bytes(content)


def side_docs(queue: Any, url: str, token: str, workspace_id: str, plans: int,
              folder: str) -> None:
    meter = PollMeter()
    out = Path(folder) / "docs-out"
    out.mkdir(parents=True, exist_ok=True)
    csv = ("prompt,response\n" + "".join(f"p{i},r{i}\n" for i in range(4))).encode()
    local = threading.local()

    def one(n: int) -> bool:
        if not hasattr(local, "http"):
            local.http = Http(meter)  # a session per thread, as requests advises
        try:
            docs_pipeline(local.http, url, token, workspace_id, f"docs-{n}", csv, out)
        except Exception:
            return False
        return True

    started = meter.started = time.monotonic()
    with ThreadPoolExecutor(32) as pool:
        done = sum(pool.map(one, range(plans)))
    finish(queue, started, meter, done, {})


# -- the run -------------------------------------------------------------------------------------


def run_side(target: Any, url: str, token: str, workspace_id: str, plans: int,
             *extra: Any) -> dict[str, Any]:
    spawn = multiprocessing.get_context("spawn")
    queue = spawn.Queue()
    with tempfile.TemporaryDirectory(prefix="bench-orchestrate-") as folder:
        process = spawn.Process(target=target, args=(queue, url, token, workspace_id, plans,
                                                     folder, *extra))
        process.start()
        result: dict[str, Any] = queue.get()
        if target is side_orchestrate:
            result["seconds"] = queue.get()  # the first run alone, not the reruns
        process.join()
    return result


def run_workers(url: str, token: str, workspace_id: str, plans: int, prefix: str,
                journal: str, workers: int) -> dict[str, Any]:
    """``workers`` processes running the same plans on one shared journal, started together:
    the wall time of the slowest, the requests of all, the plans each reported done."""
    spawn = multiprocessing.get_context("spawn")
    queue, go = spawn.Queue(), spawn.Event()
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as folder:
        processes = [spawn.Process(target=side_orchestrate, args=(
            queue, url, token, workspace_id, plans, str(Path(folder) / str(n)), None, prefix,
            False, journal, go)) for n in range(workers)]
        for n, process in enumerate(processes):
            (Path(folder) / str(n)).mkdir()
            process.start()
        go.set()
        # Each side answers its figures, then its first run's seconds: keep the figures.
        answers = [queue.get() for _ in range(2 * len(processes))]
        results = [answer for answer in answers if isinstance(answer, dict)]
        for process in processes:
            process.join()
    return {"seconds": max(r["seconds"] for r in results),
            "requests": sum(r["requests"] for r in results),
            "done": min(r["done"] for r in results)}


def database_commits(url: str) -> int:
    """Transactions the journal's database committed so far: its round trips (autocommit)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT xact_commit FROM pg_stat_database "
                           "WHERE datname = current_database()").fetchone()
    assert row is not None
    return int(row[0])


def workers_main(args: argparse.Namespace) -> None:
    """``--journal URL --workers 1,2,4``: the SQLite journal's one process against 1, 2, 4
    worker processes sharing a PostgreSQL journal, on the same fake."""
    import psycopg
    from psycopg import sql

    plans = 200 if args.quick else args.plans
    spawn = multiprocessing.get_context("spawn")
    queue, stop = spawn.Queue(), spawn.Event()
    server = spawn.Process(target=serve, args=(queue, stop), daemon=True)
    server.start()
    rows: list[tuple[str, dict[str, Any], int | None]] = []
    try:
        url, token, workspace_id = queue.get(timeout=60)
        base = run_side(side_orchestrate, url, token, workspace_id, plans, None, "sqlite")
        rows.append(("sqlite journal, 1 process", base, None))
        for workers in [int(n) for n in args.workers.split(",")]:
            database = f"bench_workers_{workers}_{os.getpid()}"
            with psycopg.connect(args.journal, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(
                    sql.Identifier(database)))
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
            journal = urlunsplit(urlsplit(args.journal)._replace(path=f"/{database}"))
            before = database_commits(journal)
            figures = run_workers(url, token, workspace_id, plans, f"pg{workers}", journal,
                                  workers)
            # Counted by the server: each worker's journal statement is one transaction.
            trips = database_commits(journal) - before
            rows.append((f"postgresql journal, {workers} worker(s)", figures, trips))
            with psycopg.connect(args.journal, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(
                    sql.Identifier(database)))
    finally:
        stop.set()
        server.join(timeout=10)
        if server.is_alive():
            server.terminate()
    print(f"{plans} plans, each worker given all of them (concurrency = plans), against a "
          "fake with 1 s jobs")
    for label, figures, counted in rows:
        per_plan = f"{counted / plans:5.1f} db round trips/plan" if counted is not None else ""
        ratio = figures["seconds"] / base["seconds"]
        print(f"  {label:<30} {figures['seconds']:7.1f} s (x{ratio:.2f})  "
              f"{figures['requests'] / plans:5.1f} requests/plan  {figures['done']}/{plans} "
              f"done  {per_plan}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plans", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="200 plans")
    parser.add_argument("--poll-rate", type=float, default=None,
                        help="orchestrate's poll_rate (default: its own default)")
    parser.add_argument("--rate-limit", type=float, default=150.0,
                        help="the rate-limited fake's requests per second")
    parser.add_argument("--journal", help="a postgresql:// URL: compare worker processes "
                        "sharing it (--workers) with the SQLite journal, instead")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--repeat", type=int, default=3,
                        help="orchestrate runs of the speed part, each on a fresh fake; the "
                        "median is compared (the machine's load moves one run by ±10 %%)")
    parser.add_argument("--part", choices=("all", "speed", "limited"), default="all",
                        help="speed: orchestrate against the docs' way; limited: under the "
                        "rate limit")
    args = parser.parse_args()
    if args.journal:
        workers_main(args)
        return
    plans = 200 if args.quick else args.plans

    rate = f"poll_rate={args.poll_rate:g}" if args.poll_rate else "default poll_rate"
    print(f"{plans} plans: dataset -> batch -> study (1 place, published, waited for) -> "
          f"export, against a fake with 1 s jobs; orchestrate with {rate}, a journal, "
          "concurrency = plans")
    if args.part in ("all", "speed"):
        speed(plans, args.poll_rate, args.repeat)
    if args.part in ("all", "limited"):
        limited(plans, args.poll_rate, args.rate_limit)


def speed(plans: int, poll_rate: float | None, repeat: int) -> None:
    """orchestrate (``repeat`` runs, each on a fresh fake: the median) against the docs' way
    (one run: it sleeps 3 s between polls, so the machine's load barely moves it)."""
    with fake_server() as (url, token, workspace_id):
        # Distinct names: a plan's name is its batch's key in the workspace.
        small = run_side(side_orchestrate, url, token, workspace_id, 100, poll_rate, "small")
    runs = []
    for n in range(repeat):
        with fake_server() as (url, token, workspace_id):
            runs.append(run_side(side_orchestrate, url, token, workspace_id, plans, poll_rate,
                                 "bench", n == 0))
    with fake_server() as (url, token, workspace_id):
        docs = run_side(side_docs, url, token, workspace_id, plans)
    ours = runs[0]
    median = statistics.median(r["seconds"] for r in runs)
    each = ", ".join(f"{r['seconds']:.1f}" for r in runs)
    rows = [("orchestrate (first run)", ours), ("docs' way (3 s poll, 32 threads)", docs)]
    for label, figures in rows:
        print(f"  {label:<34} {figures['seconds']:8.1f} s  {figures['requests']:7d} requests "
              f"({figures['requests'] / plans:5.1f}/plan)  peak {figures['rss_mb']:6.1f} MB  "
              f"{figures['done']}/{plans} done")
    for run in runs:
        if run.get("errors"):
            print("  orchestrate errors:", run["errors"])
    polls = ", ".join(f"{kind} {count / plans:.2f}"
                      for kind, count in sorted(ours["polls_by_kind"].items()))
    print(f"  orchestrate status polls a plan, by kind (first run): {polls}")
    print(f"  orchestrate: median {median:.1f} s of {repeat} runs ({each} s), "
          f"{sum(r['done'] for r in runs)}/{plans * repeat} plans done")
    print(f"  speed-up: {docs['seconds'] / median:.1f}x (median; goal >= 30x; range "
          f"{docs['seconds'] / max(r['seconds'] for r in runs):.1f}-"
          f"{docs['seconds'] / min(r['seconds'] for r in runs):.1f}x); requests per "
          f"plan: {ours['requests'] / docs['requests']:.2f} of the docs' way (goal < 1)")
    print(f"  requests per plan when the finished run is run again: "
          f"{ours['rerun_journal'] / plans:.1f} with its journal, "
          f"{ours['rerun_none'] / plans:.1f} with none (first run: "
          f"{ours['requests'] / plans:.1f}); plans failed: {ours['rerun_journal_failed']}, "
          f"{ours['rerun_none_failed']}")
    print(f"  status polls/s at the peak: orchestrate {small['peak_polls']} with 100 plans "
          f"({small['peak_kinds']}), {ours['peak_polls']} with {plans} ({ours['peak_kinds']}) "
          f"(goal: about flat); docs' way {docs['peak_polls']} with {plans}")


def limited(plans: int, poll_rate: float | None, rate_limit: float) -> None:
    """orchestrate against a fake answering 429 beyond ``rate_limit`` requests a second."""
    with fake_server(rate_limit) as (url, token, workspace_id):
        limited = run_side(side_orchestrate, url, token, workspace_id, plans, poll_rate)
    share = limited["rate_limited"] / max(1, limited["requests"])
    print(f"  under a {rate_limit:g} requests/s limit: {limited['seconds']:.1f} s, "
          f"{limited['done']}/{plans} done, {limited['rate_limited']} of "
          f"{limited['requests']} requests answered 429 ({share:.1%}; goal <= 5 %), "
          f"peak {limited['peak_polls']} status polls/s ({limited['peak_kinds']})")
    if limited.get("errors"):
        print("  rate-limited errors:", limited["errors"])


@contextmanager
def fake_server(rate_limit: float | None = None) -> Iterator[tuple[str, str, str]]:
    """A fake in its own process: (url, token, workspace id)."""
    spawn = multiprocessing.get_context("spawn")
    queue = spawn.Queue()
    stop = spawn.Event()
    server = spawn.Process(target=serve, args=(queue, stop, rate_limit), daemon=True)
    server.start()
    try:
        yield queue.get(timeout=60)
    finally:
        stop.set()
        server.join(timeout=10)
        if server.is_alive():  # still closing connections: not worth waiting for
            server.terminate()


if __name__ == "__main__":
    main()
