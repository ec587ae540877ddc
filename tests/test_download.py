"""Downloads of exports and reports: streamed, atomic, with progress; a connection cut midway
resumes with ``Range`` (or restarts) and never leaves a partial file; an expired URL is
replaced. Faults come from the fake's storage host; the resume decisions are also checked
on their own, without a network."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

import prolific_async as pa
from prolific_async._download import Resume
from prolific_async.testing import FakeClock, FakeProlific

from .helpers import published_study, ready_batch

pytestmark = pytest.mark.anyio

MiB = 1 << 20
#: A cut lands this far into the body: beyond what aiohttp may hold unread when it sees the cut
#: (about twice the SDK's 1 MiB storage read buffer, dropped with the error), so some bytes
#: are always on disk by then, whatever the timing.
CUT = 4_000_000


async def export_ready(client: pa.Prolific, fake: FakeProlific) -> str:
    """A batch with answers whose export is complete: the next `export` downloads at once."""
    batch = await ready_batch(client, fake)
    await published_study(client, fake, batch, places=2)
    fake.clock.advance(10)
    fake.clock.per_request = 0.5  # export jobs finish as they are polled
    return batch.id


def assert_whole_zip(path: Path) -> None:
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None  # every member's CRC checks out
    with pa.ExportArchive(path) as archive:
        assert len(list(archive.submissions())) == 2


def only(folder: Path, path: Path) -> None:
    """Nothing but the finished file: no temporary or partial file left behind."""
    assert list(folder.iterdir()) == [path]


@pytest.fixture
async def big_fake() -> FakeProlific:  # type: ignore[misc]
    async with FakeProlific(clock=FakeClock(speed=0), seed=1234,
                            export_padding_bytes=6 * MiB) as fake:
        yield fake


@pytest.fixture
async def big_client(big_fake: FakeProlific) -> pa.Prolific:  # type: ignore[misc]
    async with pa.Prolific(big_fake.token, base_url=big_fake.url, seed=1234,
                           poll=pa.PollPolicy(initial=0.01, ceiling=0.05, deadline=5),
                           retry=pa.RetryPolicy(wait_initial=0.01, wait_max=0.05)) as client:
        yield client


async def test_progress_is_reported_as_the_file_grows(
    big_client: pa.Prolific, big_fake: FakeProlific, tmp_path: Path
) -> None:
    batch_id = await export_ready(big_client, big_fake)
    seen: list[tuple[int, int | None]] = []
    path = await big_client.batches.export(batch_id, tmp_path,
                                           progress=lambda done, total: seen.append((done, total)))
    size = path.stat().st_size
    assert size > 6 * MiB
    assert seen[0] == (0, size) and seen[-1] == (size, size)
    done = [d for d, _ in seen]
    assert done == sorted(done) and len(seen) >= 4  # 1 MiB writes: several steps
    assert_whole_zip(path)
    only(tmp_path, path)


async def test_report_download_reports_progress(prolific_client: pa.Prolific,
                                                fake_prolific: FakeProlific,
                                                tmp_path: Path) -> None:
    batch_id = await export_ready(prolific_client, fake_prolific)
    seen: list[tuple[int, int | None]] = []
    path = await prolific_client.batches.download_report(
        batch_id, tmp_path, progress=lambda done, total: seen.append((done, total)))
    size = path.stat().st_size
    assert seen == [(0, size), (size, size)]
    assert path.read_text().count("\n") == 3  # header and two answers
    only(tmp_path, path)


async def test_a_cut_connection_resumes_with_range(
    big_client: pa.Prolific, big_fake: FakeProlific, tmp_path: Path
) -> None:
    batch_id = await export_ready(big_client, big_fake)
    big_fake.inject(method="GET", path="/exports/*", truncate_after=CUT, times=1)
    seen: list[int] = []
    path = await big_client.batches.export(batch_id, tmp_path,
                                           progress=lambda done, _: seen.append(done))
    first, second = big_fake.requests_to("GET", "/exports/*")
    assert "Range" not in first.headers
    # What was on disk when the connection broke (aiohttp drops what it had buffered but not
    # handed over) is kept: the retry asks only for the rest, guarded by the ETag.
    kept = int(second.headers["Range"].removeprefix("bytes=").removesuffix("-"))
    assert CUT - 3 * MiB < kept <= CUT and kept in seen
    assert second.headers["If-Range"]  # the ETag the first answer carried
    assert seen == sorted(seen) and seen[-1] == path.stat().st_size  # never back to 0
    assert_whole_zip(path)
    only(tmp_path, path)


async def test_resuming_finishes_where_restarting_never_would(
    big_client: pa.Prolific, big_fake: FakeProlific, tmp_path: Path
) -> None:
    batch_id = await export_ready(big_client, big_fake)
    # Every answer is cut before the end of the 6 MiB archive: only ranges can finish it.
    big_fake.inject(method="GET", path="/exports/*", truncate_after=CUT)
    path = await big_client.batches.export(batch_id, tmp_path)
    attempts = big_fake.requests_to("GET", "/exports/*")
    assert 2 <= len(attempts) <= 5
    assert all("Range" in a.headers for a in attempts[1:])
    assert_whole_zip(path)
    only(tmp_path, path)


async def test_a_connection_cut_every_time_leaves_no_partial_file(
    big_client: pa.Prolific, big_fake: FakeProlific, tmp_path: Path
) -> None:
    batch_id = await export_ready(big_client, big_fake)
    big_fake.inject(method="GET", path="/exports/*", truncate_after=1000)
    with pytest.raises(pa.APIConnectionError):
        await big_client.batches.export(batch_id, tmp_path)
    assert list(tmp_path.iterdir()) == []
    assert len(big_fake.requests_to("GET", "/exports/*")) == 5  # RetryPolicy.attempts
    # Once the storage host recovers, the same call succeeds.
    big_fake.faults.clear()
    path = await big_client.batches.export(batch_id, tmp_path)
    assert_whole_zip(path)
    only(tmp_path, path)


async def test_a_dropped_connection_before_the_answer_is_retried(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific, tmp_path: Path
) -> None:
    batch_id = await export_ready(prolific_client, fake_prolific)
    fake_prolific.inject(method="GET", path="/exports/*", drop=True, times=1)
    path = await prolific_client.batches.export(batch_id, tmp_path)
    assert len(fake_prolific.requests_to("GET", "/exports/*")) == 2
    assert_whole_zip(path)
    only(tmp_path, path)


async def test_cut_then_expired_url_resumes_on_a_fresh_url(
    big_client: pa.Prolific, big_fake: FakeProlific, tmp_path: Path
) -> None:
    batch_id = await export_ready(big_client, big_fake)
    big_fake.inject(method="GET", path="/exports/*", truncate_after=CUT, times=1)
    big_fake.inject(method="GET", path="/exports/*", status=403, times=1,
                    body="<Error><Code>AccessDenied</Code></Error>")
    path = await big_client.batches.export(batch_id, tmp_path)
    cut, expired, resumed = big_fake.requests_to("GET", "/exports/*")
    assert expired.headers["Range"] == resumed.headers["Range"]
    assert "Range" not in cut.headers
    assert resumed.query["X-Amz-Signature"] != cut.query["X-Amz-Signature"]
    assert_whole_zip(path)
    only(tmp_path, path)


async def test_existing_file_is_replaced_whole(prolific_client: pa.Prolific,
                                               fake_prolific: FakeProlific,
                                               tmp_path: Path) -> None:
    batch_id = await export_ready(prolific_client, fake_prolific)
    target = tmp_path / "export.zip"
    target.write_bytes(b"an older export")
    fake_prolific.inject(method="GET", path="/exports/*", status=404, body="<Error/>")
    with pytest.raises(pa.StorageError, match="404"):
        await prolific_client.batches.export(batch_id, target)
    assert target.read_bytes() == b"an older export"  # a failed download touches nothing
    fake_prolific.faults.clear()
    assert await prolific_client.batches.export(batch_id, target) == target
    assert_whole_zip(target)
    only(tmp_path, target)


# -- the resume decisions, without a network ------------------------------------------------


def test_resume_asks_for_the_rest_only_when_the_host_serves_ranges() -> None:
    state = Resume()
    assert state.begin(200, {"Accept-Ranges": "bytes", "ETag": '"v1"'}, 1000) == 0
    state.done = 400
    assert state.headers() == {"Range": "bytes=400-", "If-Range": '"v1"'}
    assert state.begin(206, {"Content-Range": "bytes 400-999/1000"}, 600) == 400
    assert state.total == 1000

    plain = Resume()
    assert plain.begin(200, {}, 1000) == 0
    plain.done = 400
    assert plain.headers() == {}  # no Accept-Ranges: the retry starts again


def test_resume_restarts_on_a_full_answer_or_a_wrong_range() -> None:
    state = Resume()
    state.begin(200, {"Accept-Ranges": "bytes"}, 1000)
    state.done = 400
    # The object changed (If-Range did not match): a full body, started from the first byte.
    assert state.begin(200, {"Accept-Ranges": "bytes"}, 1200) == 0
    assert (state.done, state.total) == (0, 1200)
    state.done = 400
    assert state.begin(206, {"Content-Range": "bytes 0-999/1000"}, 1000) is None
    assert state.done == 0 and state.headers() == {}


def test_resume_never_uses_ranges_across_a_content_encoding() -> None:
    state = Resume()
    state.begin(200, {"Accept-Ranges": "bytes", "Content-Encoding": "gzip"}, None)
    state.done = 400
    assert state.headers() == {}
    assert state.complete  # no length given: nothing to check the size against
