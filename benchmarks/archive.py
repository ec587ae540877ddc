"""Getting the data out: what do downloading and reading an export cost?

(a) Download. A 1 GiB export (the fake's ``export_padding_bytes``) from the fake's storage host,
running in its own process, through ``client.batches.export`` (chunked, 1 MiB writes in a
worker thread, temporary file renamed when complete, resume bookkeeping) and through a bare
``aiohttp`` GET of the same presigned URL written with plain ``file.write`` calls. Each
download runs in a fresh process, so its memory figure is its own: the peak RSS during the
download minus the RSS just before it. Rounds alternate which goes first; figures are medians.

(c) Refuse. An export ZIP whose ``responses-by-submission.jsonl`` is one 1 GiB line (about 1 MiB
compressed): ``ExportArchive.submissions()`` refuses it (``ArchiveError``, above
``max_line_bytes``, 64 MiB) having read no more than the limit. Baseline: the least any reader
can hold, a raw ``zipfile`` stream of the same member read in 1 MiB pieces, stopped at the same
byte count. Each runs in a fresh process; figures are peak RSS growth and time, medians.

(b) Read. 200,000 records of ``responses-by-submission.jsonl`` through
``ExportArchive.submissions()`` (typed attrs records), against a plain ``json.loads`` loop over
the same lines, read the same way (the ZIP member through ``io.TextIOWrapper``). Two record
kinds: the docs' example (a free-text answer and a file upload) and one answer of each of the
five shapes. CPU time (``time.process_time``), so other processes on the machine count less.

    python benchmarks/archive.py [--quick] [--size-mib 1024] [--records 200000] [--rounds 5]
                                 [--line-mib 1024] [--only download|records|huge-line]

Goals: (a) SDK time / bare time <= 1.2 and SDK memory growth < 50 MB; (b) SDK / json.loads
<= 2.0; (c) refused with an ArchiveError, memory growth at most max_line_bytes (64 MiB, the
most of a line ever held) plus 16 MiB. Linux or macOS (it reads the RSS with ``resource``).
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import aiohttp
import anyio

import prolific_async as pa
from prolific_async.testing import FakeClock, FakeProlific

MiB = 1 << 20

# -- (a) downloads ----------------------------------------------------------------------------


def serve(queue: Any, stop: Any, padding: int) -> None:
    async def main() -> None:
        # Each API request moves the clock on, so export jobs finish as they are polled; the
        # older "200" contract hands a complete export back at once, so every round downloads
        # the same archive without a new job.
        async with FakeProlific(clock=FakeClock(speed=0, per_request=0.5), record=False,
                                export_contract="200", export_padding_bytes=padding) as fake:
            queue.put((fake.url, fake.token, fake.workspace_id))
            await anyio.to_thread.run_sync(stop.wait)

    anyio.run(main)


async def prepare(url: str, token: str, workspace_id: str, folder: Path) -> tuple[str, str]:
    """A batch with answers and a complete export: its id and the export's presigned URL."""
    data = folder / "data.csv"
    data.write_text("prompt,response\n" + "".join(f"p{i},r{i}\n" for i in range(20)))
    details = pa.TaskDetails(task_name="Rate", task_introduction="<p>Hi</p>", task_steps="<p/>")
    async with pa.Prolific(token, base_url=url) as client:
        ds = await client.datasets.create(name="bench", workspace_id=workspace_id)
        await client.datasets.upload(ds.id, data)
        await client.datasets.wait_ready(ds.id)
        layout = [pa.BatchPage(rows=[pa.BatchRow(columns=[pa.BatchColumn(items=[
            pa.FreeText(description="Why?")])])])]
        batch = await client.batches.create(name="bench", workspace_id=workspace_id,
                                            dataset_id=ds.id, task_details=details,
                                            batch_items=layout)
        await client.batches.setup(batch.id)
        await client.batches.wait_ready(batch.id)
        study = await client.studies.create(pa.StudyCreate(
            name="bench", description="d", data_collection_id=batch.id,
            total_available_places=5, reward=10, estimated_completion_time=1))
        await client.studies.publish(study.id)
        job = await client.batches.request_export(batch.id)
        if job.export_id is not None:
            await client.batches.wait_export(batch.id, job.export_id)
        job = await client.batches.request_export(batch.id)
        assert job.url is not None
        return batch.id, job.url


def rss_now() -> int:
    """Resident set size now, in bytes (Linux: /proc; elsewhere the peak so far)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return peak_rss()


def peak_rss() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux


async def sdk_download(api: str, token: str, batch_id: str, url: str,
                       folder: str) -> tuple[float, int, int]:
    async with pa.Prolific(token, base_url=api) as client:
        before = rss_now()
        started = time.perf_counter()
        path = await client.batches.export(batch_id, folder)
        took = time.perf_counter() - started
    size = path.stat().st_size
    path.unlink()
    return took, peak_rss() - before, size


async def bare_download(api: str, token: str, batch_id: str, url: str, folder: str, *,
                        read_bufsize: int | None = None) -> tuple[float, int, int]:
    path = Path(folder) / "bare.zip"
    async with aiohttp.ClientSession() as session:
        before = rss_now()
        started = time.perf_counter()
        async with session.get(url, read_bufsize=read_bufsize) as resp:
            resp.raise_for_status()
            with path.open("wb") as out:
                async for chunk in resp.content.iter_chunked(1 << 16):
                    out.write(chunk)
        took = time.perf_counter() - started
    size = path.stat().st_size
    path.unlink()
    return took, peak_rss() - before, size


async def tuned_download(api: str, token: str, batch_id: str, url: str,
                         folder: str) -> tuple[float, int, int]:
    """The bare download with the read buffer the SDK uses for storage (1 MiB, not 64 KiB)."""
    return await bare_download(api, token, batch_id, url, folder, read_bufsize=MiB)


RUNNERS = {"sdk": sdk_download, "bare": bare_download, "tuned": tuned_download}
LABELS = {"bare": "bare aiohttp           ", "tuned": "bare, 1 MiB read buffer",
          "sdk": "prolific_async         "}


def download_worker(kind: str, args: tuple[str, str, str, str, str], conn: Any) -> None:
    conn.send(anyio.run(RUNNERS[kind], *args))


def run_download(kind: str, args: tuple[str, str, str, str, str]) -> tuple[float, int, int]:
    """One download in a fresh process, so the memory it reports is its own."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=download_worker, args=(kind, args, child))
    process.start()
    result: tuple[float, int, int] = parent.recv()
    process.join()
    return result


def bench_download(size_mib: int, rounds: int) -> None:
    queue: Any = multiprocessing.Queue()
    stop = multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(queue, stop, size_mib * MiB),
                                     daemon=True)
    server.start()
    results: dict[str, list[tuple[float, int, int]]] = {kind: [] for kind in RUNNERS}
    try:
        api, token, workspace_id = queue.get(timeout=60)
        with tempfile.TemporaryDirectory() as folder:
            batch_id, url = anyio.run(prepare, api, token, workspace_id, Path(folder))
            args = (api, token, batch_id, url, folder)
            for number in range(rounds):
                # Rotate which goes first, so none always meets a warmer or busier machine.
                kinds = list(RUNNERS)
                for kind in kinds[number % 3:] + kinds[:number % 3]:
                    results[kind].append(run_download(kind, args))
    finally:
        stop.set()
        server.join(timeout=10)

    size = results["sdk"][0][2]
    assert all(r[2] == size for rs in results.values() for r in rs)
    print(f"(a) download of a {size / MiB:.0f} MiB export, {rounds} rotating rounds, "
          "each download in a fresh process (medians)")
    for kind in ("bare", "tuned", "sdk"):
        took = statistics.median(r[0] for r in results[kind])
        growth = max(r[1] for r in results[kind])
        print(f"  {LABELS[kind]}: {took:6.2f} s  {size / MiB / took:6.0f} MiB/s  "
              f"peak RSS growth {growth / MiB:5.1f} MiB (worst round)")
    for baseline, goal in (("bare", "; goal <= 1.2"), ("tuned", "")):
        # Each round's runs are back to back, so their ratio cancels most machine noise.
        ratios = sorted(s[0] / b[0] for s, b in zip(results["sdk"], results[baseline],
                                                     strict=True))
        print(f"  time SDK/{baseline}: median {statistics.median(ratios):.3f} "
              f"(per-round range {ratios[0]:.2f}-{ratios[-1]:.2f}{goal})")
    print("  goal: SDK peak RSS growth < 50 MB")


# -- (b) reading records ----------------------------------------------------------------------

TEXT = "0192a3b4-e7f8-7a0b-1c2d-3e4f5a6b7c8d"
PHOTO = "0192a3b5-e3f4-7a5b-6c7d-9e0f1a2b3c4d"


def docs_record(n: int) -> dict[str, Any]:
    """The docs' example record ("Exporting Batch Data"), with its ids numbered."""
    return {
        "submission_id": f"sub-{n:08d}", "participant_id": f"part-{n * 7919 % 10**8:08d}",
        "batch_id": "0192a3b4-c5d6-7e8f-9a0b-1c2d3e4f5a6b", "created_at": "2026-03-19T10:30:00Z",
        "responses": {f"task-{n % 1000}": {
            TEXT: {"type": "free_text", "description": "Briefly describe the item shown",
                   "value": "A red leather wallet with two card slots"},
            PHOTO: {"type": "file_upload", "description": "Upload a photo of the item",
                    "files": [{"name": "photo.jpg",
                               "path": f"files/sub-{n:08d}_{PHOTO}_0.jpg"}]},
        }},
    }


def every_shape_record(n: int) -> dict[str, Any]:
    record = docs_record(n)
    answers = record["responses"][f"task-{n % 1000}"]
    answers["i-unit"] = {"type": "free_text_with_unit", "description": "How heavy?",
                         "value": str(n % 90 + 10), "unit": "g"}
    answers["i-choice"] = {"type": "multiple_choice", "description": "Colour?",
                           "values": ["red", "brown"][: n % 2 + 1]}
    answers["i-why"] = {"type": "multiple_choice_with_free_text", "description": "Better?",
                        "values": [{"option": "a", "explanation": "clearer, and shorter"}]}
    return record


def write_archive(path: Path, make: Any, records: int) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("responses-by-submission.jsonl", "w") as member:
            for n in range(records):
                member.write(json.dumps(make(n)).encode() + b"\n")
        archive.writestr("batch.json", json.dumps({"batch_id": "b", "instructions": []}))


def read_json(path: Path) -> int:
    with zipfile.ZipFile(path) as archive, \
            archive.open("responses-by-submission.jsonl") as raw, \
            io.TextIOWrapper(raw, encoding="utf-8") as lines:
        return sum(1 for line in lines if json.loads(line))


def read_typed(path: Path) -> int:
    with pa.ExportArchive(path) as archive:
        return sum(1 for _ in archive.submissions())


def bench_records(records: int, rounds: int) -> None:
    print(f"(b) reading {records} records of responses-by-submission.jsonl, {rounds} "
          "alternating rounds (CPU time, medians)")
    with tempfile.TemporaryDirectory() as folder:
        for label, make in (("docs example, 2 answers", docs_record),
                            ("every shape, 5 answers", every_shape_record)):
            path = Path(folder) / "export.zip"
            write_archive(path, make, records)
            times: dict[str, list[float]] = {"json": [], "typed": []}
            for number in range(rounds):
                order = (read_json, read_typed) if number % 2 == 0 else (read_typed, read_json)
                for read in order:
                    started = time.process_time()
                    assert read(path) == records
                    times["json" if read is read_json else "typed"].append(
                        time.process_time() - started)
            ratios = sorted(t / j for t, j in zip(times["typed"], times["json"], strict=True))
            plain, typed = statistics.median(times["json"]), statistics.median(times["typed"])
            print(f"  {label}:")
            print(f"    json.loads loop       : {records / plain:9.0f} records/s")
            print(f"    ExportArchive (typed) : {records / typed:9.0f} records/s")
            print(f"    ratio typed/json.loads: median {statistics.median(ratios):.2f} "
                  f"(per-round range {ratios[0]:.2f}-{ratios[-1]:.2f}; goal <= 2.0)")


# -- (c) one huge line ------------------------------------------------------------------------

MEMBER = "responses-by-submission.jsonl"


def write_huge_line(path: Path, line_mib: int) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open(MEMBER, "w", force_zip64=True) as member:
            member.write(b'{"submission_id": "')
            block = b"a" * MiB
            for _ in range(line_mib):
                member.write(block)
            member.write(b'"}\n')
        archive.writestr("batch.json", json.dumps({"batch_id": "b", "instructions": []}))


def refuse_sdk(path: str) -> tuple[float, int, str]:
    before = rss_now()
    started = time.perf_counter()
    try:
        with pa.ExportArchive(path) as archive:
            next(archive.submissions())
        outcome = "read (not refused!)"
    except pa.ArchiveError as exc:
        outcome = f"ArchiveError: {exc}"
    return time.perf_counter() - started, peak_rss() - before, outcome


def stream_raw(path: str) -> tuple[float, int, str]:
    before = rss_now()
    started = time.perf_counter()
    limit, done = 64 * MiB + 1, 0  # what the SDK reads before it refuses
    with zipfile.ZipFile(path) as archive, archive.open(MEMBER) as member:
        while done < limit and (piece := member.read(min(MiB, limit - done))):
            done += len(piece)
    return time.perf_counter() - started, peak_rss() - before, f"{done:,} bytes streamed"


HUGE = {"sdk": refuse_sdk, "raw": stream_raw}


def huge_worker(kind: str, path: str, conn: Any) -> None:
    conn.send(HUGE[kind](path))


def run_huge(kind: str, path: str) -> tuple[float, int, str]:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=huge_worker, args=(kind, path, child))
    process.start()
    result: tuple[float, int, str] = parent.recv()
    process.join()
    return result


def bench_huge_line(line_mib: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "huge-line.zip"
        write_huge_line(path, line_mib)
        print(f"(c) an export ZIP of {path.stat().st_size / MiB:.1f} MiB holding one "
              f"{line_mib} MiB JSONL line, {rounds} alternating rounds, each in a fresh process")
        results: dict[str, list[tuple[float, int, str]]] = {kind: [] for kind in HUGE}
        for number in range(rounds):
            for kind in (("sdk", "raw") if number % 2 == 0 else ("raw", "sdk")):
                results[kind].append(run_huge(kind, str(path)))
    for kind, label in (("raw", "raw zipfile stream, 64 MiB"), ("sdk", "ExportArchive refusal ")):
        took = statistics.median(r[0] for r in results[kind])
        growth = statistics.median(r[1] for r in results[kind])
        print(f"  {label}: {took:6.2f} s  peak RSS growth {growth / MiB:6.1f} MiB (median)")
    print(f"  SDK outcome: {results['sdk'][0][2][:150]}")
    ratio = statistics.median(s[1] / max(r[1], 1) for s, r in zip(
        results["sdk"], results["raw"], strict=True))
    print(f"  memory SDK/raw: median {ratio:.1f} (the SDK holds up to max_line_bytes of the "
          "line before refusing; goal: refused, growth <= 64 + 16 MiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="a smaller run: 128 MiB, 20,000 records, 3 rounds")
    parser.add_argument("--size-mib", type=int, default=None)
    parser.add_argument("--records", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--line-mib", type=int, default=None,
                        help="size of the one huge line of (c) [default: 1024; --quick 128]")
    parser.add_argument("--only", choices=("download", "records", "huge-line"), default=None)
    args = parser.parse_args()
    size = args.size_mib or (128 if args.quick else 1024)
    records = args.records or (20_000 if args.quick else 200_000)
    rounds = args.rounds or (3 if args.quick else 5)
    if args.only in (None, "download"):
        bench_download(size, rounds)
    if args.only in (None, "records"):
        bench_records(records, rounds)
    if args.only in (None, "huge-line"):
        bench_huge_line(args.line_mib or (128 if args.quick else 1024), rounds)


if __name__ == "__main__":
    main()
