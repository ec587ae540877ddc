"""The API token never leaves the one place it belongs: the ``Authorization`` header of
requests to the API's base URL.

Each test captures everything a token could leak into and searches it: every log record of
every logger at every level (DEBUG included), every exception's message, repr, attributes and
traceback with locals (chained causes included) across representative failures, the command
line's output, the journal and every file a run writes, and the headers and queries of every
request either host of the fake received.

Already pinned elsewhere, not repeated: reprs and ``vars()`` of the client and its parts,
pickling and copying, tracebacks of 500s and of a bad base URL
(``tests/test_foundation.py``); redirects are never followed (``tests/test_transport.py``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import sys
import traceback
from collections.abc import Awaitable, Callable, Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import anyio
import pytest

import prolific_async as pa
from prolific_async.testing import FakeClock, FakeProlific

from .helpers import DETAILS, QUESTIONS, published_study, ready_batch, write_csv

pytestmark = pytest.mark.anyio

SECRET = "tok-5e0c8a2f71d94b3b"
OTHER = "tok-a91f06c3d7e2485c"  # a wrong token is someone's token too
BATCHES = "/api/v1/data-collection/batches"


class _Everything(logging.Handler):
    """Keeps every record formatted whole: message, arguments and traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def every_log_line() -> Iterator[list[str]]:
    """Every record of every logger at DEBUG and above while the test runs (aiohttp's and
    asyncio's included, and loggers that do not propagate to the root)."""
    handler = _Everything()
    manager = logging.root.manager
    loggers = [logging.root, *(lg for lg in manager.loggerDict.values()
                               if isinstance(lg, logging.Logger))]
    saved = [(lg, lg.level) for lg in loggers]
    logging.disable(logging.NOTSET)
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
    logging.root.addHandler(handler)
    hooked = [lg for lg in loggers if not lg.propagate]
    for lg in hooked:
        lg.addHandler(handler)
    try:
        yield handler.lines
    finally:
        logging.root.removeHandler(handler)
        for lg in hooked:
            lg.removeHandler(handler)
        for lg, level in saved:
            lg.setLevel(level)


def client_for(fake: FakeProlific, token: str = SECRET, **options: Any) -> pa.Prolific:
    options.setdefault("retry", pa.RetryPolicy(attempts=3, wait_initial=0.001, wait_max=0.002))
    return pa.Prolific(token, base_url=fake.url, seed=9,
                       poll=pa.PollPolicy(initial=0.005, ceiling=0.01, deadline=5), **options)


def everything_shown(exc: BaseException) -> str:
    """Every way an error reaches a screen, a log or a crash report."""
    parts = [str(exc), repr(exc), *(repr(v) for v in vars(exc).values())]
    parts.append("".join(traceback.TracebackException.from_exception(
        exc, capture_locals=True).format()))
    # An error that cannot be pickled leaks nothing that way.
    with contextlib.suppress(Exception):
        parts.append(repr(pickle.dumps(exc)))
    return "\n".join(parts)


async def caught(call: Awaitable[Any]) -> BaseException:
    """The error ``call`` raises, caught in a frame whose locals hold no token."""
    try:
        await call
    except pa.ProlificError as exc:
        return exc
    raise AssertionError("expected an error")


def storage_signatures(fake: FakeProlific) -> set[str]:
    return {r.query["X-Amz-Signature"] for r in fake.requests
            if r.server == "storage" and "X-Amz-Signature" in r.query}


# -- failures ---------------------------------------------------------------------------------

FAILURES: dict[str, Callable[[FakeProlific, pa.Prolific], Awaitable[Any]]] = {}


def failure(name: str) -> Callable[[Callable[[FakeProlific, pa.Prolific], Awaitable[Any]]],
                                   Callable[[FakeProlific, pa.Prolific], Awaitable[Any]]]:
    def register(make: Callable[[FakeProlific, pa.Prolific], Awaitable[Any]]) -> Any:
        FAILURES[name] = make
        return make
    return register


@failure("401")
async def _unauthorized(fake: FakeProlific, client: pa.Prolific) -> Any:
    async with client_for(fake, OTHER) as other:
        return await caught(other.batches.list(workspace_id=fake.workspace_id))


@failure("500")
async def _server_error(fake: FakeProlific, client: pa.Prolific) -> Any:
    fake.inject(method="GET", path=f"{BATCHES}/b1", status=500, times=3)
    return await caught(client.batches.get("b1"))


@failure("429-too-long")
async def _rate_limited(fake: FakeProlific, client: pa.Prolific) -> Any:
    fake.inject(method="GET", path=f"{BATCHES}/b1", status=429, retry_after="3600", times=1)
    return await caught(client.batches.get("b1"))


@failure("dropped")
async def _dropped(fake: FakeProlific, client: pa.Prolific) -> Any:
    fake.inject(method="GET", path=f"{BATCHES}/b1", drop=True, times=10)
    return await caught(client.batches.get("b1"))


@failure("timeout")
async def _timeout(fake: FakeProlific, client: pa.Prolific) -> Any:
    fake.inject(method="GET", path=f"{BATCHES}/b1", status=None, latency=1.0, times=3)
    async with client_for(fake, timeouts=pa.Timeouts(read=0.05)) as impatient:
        return await caught(impatient.batches.get("b1"))


@failure("lost-answer")
async def _lost_answer(fake: FakeProlific, client: pa.Prolific) -> Any:
    fake.inject(method="POST", path=BATCHES, lose_answer=True, times=1)
    return await caught(client.batches.create(name="lost", workspace_id=fake.workspace_id,
                                              task_details=DETAILS))


@failure("bad-json")
async def _bad_json(fake: FakeProlific, client: pa.Prolific) -> Any:
    fake.inject(method="GET", path=f"{BATCHES}/b1", status=200, body="<html>oops</html>",
                times=1)
    return await caught(client.batches.get("b1"))


@failure("body-not-a-model")
async def _not_a_model(fake: FakeProlific, client: pa.Prolific) -> Any:
    fake.inject(method="GET", path=f"{BATCHES}/b1", status=200, body={"name": "no id"}, times=1)
    return await caught(client.batches.get("b1"))


@failure("poll-gives-up")
async def _poll_errors(fake: FakeProlific, client: pa.Prolific) -> Any:
    fake.inject(method="GET", path="*/status", status=503)
    return await caught(client.batches.wait_ready("b1"))


@failure("poll-timeout")
async def _poll_timeout(fake: FakeProlific, client: pa.Prolific) -> Any:
    batch = await ready_batch(client, fake)
    job = await client.batches.request_export(batch.id)
    assert job.export_id is not None
    error = await caught(client.batches.wait_export(
        batch.id, job.export_id, poll=pa.PollPolicy(initial=0.005, ceiling=0.01,
                                                    deadline=0.05)))
    assert isinstance(error, pa.PollTimeout)
    assert SECRET not in repr(error.resume_token)
    return error


@failure("storage-refused")
async def _storage(fake: FakeProlific, client: pa.Prolific) -> Any:
    batch = await ready_batch(client, fake)
    fake.clock.per_request = 0.5
    fake.inject(method="GET", path="/exports/*", status=404, body="<Error/>")
    return await caught(client.batches.export(batch.id, os.devnull + "-never"))


@pytest.mark.parametrize("name", sorted(FAILURES))
async def test_no_failure_shows_the_token(name: str, every_log_line: list[str]) -> None:
    async with FakeProlific(token=SECRET, clock=FakeClock(speed=0), seed=3) as fake:
        async with client_for(fake) as client:
            error = await FAILURES[name](fake, client)
        shown = everything_shown(error)
    assert SECRET not in shown and OTHER not in shown
    assert every_log_line, "the failure was logged"
    assert not [line for line in every_log_line if SECRET in line or OTHER in line]


def test_a_refused_token_is_not_in_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    # A token with a line break inside is still mostly the real token: never shown either.
    monkeypatch.setenv("PROLIFIC_TOKEN", SECRET[:8] + "\n" + SECRET[8:])
    with pytest.raises(pa.ConfigurationError, match="line break") as refused:
        pa.Prolific()
    shown = everything_shown(refused.value)
    assert SECRET[:8] not in shown and SECRET[8:] not in shown


# -- a whole job: logs, hosts, files ----------------------------------------------------------

async def test_a_whole_job_logs_nothing_secret_and_sends_the_token_only_to_the_api(
    tmp_path: Path, every_log_line: list[str],
) -> None:
    async with FakeProlific(token=SECRET, clock=FakeClock(speed=0), seed=4) as fake:
        # A few faults so that retries, pauses and their log lines happen too.
        fake.inject(method="GET", path=f"{BATCHES}/*", status=503, every=4)
        fake.inject(method="GET", path="/exports/*", truncate_after=200, times=1)
        async with client_for(fake) as client:
            batch = await ready_batch(client, fake)
            await published_study(client, fake, batch, places=2)
            fake.clock.advance(5)
            fake.clock.per_request = 0.5
            responses = [r async for r in client.batches.responses(batch.id)]
            export = await client.batches.export(batch.id, tmp_path / "exports")
            report = await client.batches.download_report(batch.id, tmp_path / "reports")
            ds = await client.datasets.create(name="again", workspace_id=fake.workspace_id)
            await client.datasets.upload(ds.id, write_csv(tmp_path))
            await client.instructions.get(batch.id)
    assert responses and export.stat().st_size and report.stat().st_size
    signatures = storage_signatures(fake)
    assert signatures, "storage was used"

    by_host = {"api": 0, "storage": 0}
    for request in fake.requests:
        by_host[request.server] += 1
        sent = repr((request.path, request.query, request.headers, request.json))
        if request.server == "api":
            assert request.headers["Authorization"] == f"Token {SECRET}"
            assert SECRET not in repr((request.path, request.query, request.json))
        else:
            # Presigned uploads and downloads carry no Authorization and no token at all.
            assert "Authorization" not in request.headers and SECRET not in sent, request
    assert by_host["storage"] >= 4  # an upload, a cut download and its retry, a report

    assert not [line for line in every_log_line if SECRET in line]
    # Presigned signatures are credentials too: logged URLs drop their query.
    assert not [line for line in every_log_line if any(s in line for s in signatures)]
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert not [p for p in written if SECRET.encode() in p.read_bytes()]


# -- the journal of a run ---------------------------------------------------------------------

async def test_the_journal_and_a_runs_files_hold_no_token(tmp_path: Path,
                                                          every_log_line: list[str]) -> None:
    journal = tmp_path / "run.db"
    async with FakeProlific(token=SECRET, clock=FakeClock(speed=0, per_request=0.5),
                            seed=5) as fake:
        fake.inject(method="POST", path=BATCHES, lose_answer=True, times=1)
        plans = [pa.BatchPlan(
            name=f"plan-{n}", workspace_id=fake.workspace_id, dataset=write_csv(
                tmp_path, name=f"data-{n}.csv"),
            task_details=DETAILS, instructions=QUESTIONS,
            study=pa.StudyPlan(description="Rate", reward=10, places=1,
                               estimated_minutes=1, publish=True, wait_for=1),
            export_to=tmp_path / "exports") for n in range(3)]
        async with client_for(fake) as client:
            async with pa.orchestrate(client, plans, journal=journal) as run:
                results = await run.wait()
    assert [r.error for r in results] == [None, None, None]
    storage = [r for r in fake.requests if r.server == "storage"]
    assert len(storage) >= 6  # three uploads, three downloads
    assert not [r for r in storage if "Authorization" in r.headers or SECRET in repr(r)]
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert journal in files
    assert not [p for p in files if SECRET.encode() in p.read_bytes()]
    assert not [line for line in every_log_line if SECRET in line]


# -- the command line -------------------------------------------------------------------------

@pytest.mark.skipif(find_spec("prolific_async.cli") is None or find_spec("click") is None,
                    reason="the command line has not landed")
async def test_the_command_line_prints_no_token(tmp_path: Path) -> None:
    async with FakeProlific(token=SECRET, clock=FakeClock(speed=0, per_request=1.0),
                            seed=6) as fake:
        async with client_for(fake) as client:
            batch = await ready_batch(client, fake)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PROLIFIC_")}
        env.update(PROLIFIC_URL=fake.url, PROLIFIC_TOKEN=SECRET, NO_COLOR="1")
        fake.inject(method="GET", path=f"{BATCHES}/missing", status=500)
        runs = [
            ["--debug", "batch", "list", "--workspace", fake.workspace_id],
            ["--debug", "--json", "batch", "get", batch.id],
            ["--debug", "--retries", "1", "batch", "get", "missing"],
            ["--debug", "batch", "get", "../x"],
            ["--debug", "batch", "export", batch.id, str(tmp_path)],
        ]
        outputs = []
        for args in runs:
            done = await anyio.run_process([sys.executable, "-m", "prolific_async.cli", *args],
                                           env=env, check=False)
            outputs.append((args, done.returncode, done.stdout.decode() + done.stderr.decode()))
        wrong = await anyio.run_process(
            [sys.executable, "-m", "prolific_async.cli", "--debug", "batch", "get", batch.id],
            env={**env, "PROLIFIC_TOKEN": OTHER}, check=False)
        outputs.append((["wrong token"], wrong.returncode,
                        wrong.stdout.decode() + wrong.stderr.decode()))
    assert [code for _, code, _ in outputs][:2] == [0, 0]
    assert all(code != 0 for _, code, _ in outputs[2:])
    assert any("Traceback" in text for _, _, text in outputs), "--debug showed tracebacks"
    leaks = [args for args, _, text in outputs if SECRET in text or OTHER in text]
    assert leaks == []
