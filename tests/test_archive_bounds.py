"""Export archives within bounds: long lines, deep JSON, bombs and duplicate names are
ArchiveErrors naming the member, read in bounded memory, with nothing written."""

from __future__ import annotations

import json
import tracemalloc
import zipfile
from pathlib import Path

import pytest

import prolific_async as pa

from .test_archive import BATCH_JSON, BY_SUBMISSION, jsonl, write_zip

RECORDS = jsonl(BY_SUBMISSION)


def test_a_record_line_over_the_limit_is_refused_naming_member_and_line(
        tmp_path: Path) -> None:
    long_line = json.dumps({"submission_id": "x" * 5000}) + "\n"
    path = write_zip(tmp_path / "x.zip", {"responses-by-submission.jsonl": RECORDS + long_line,
                                          "batch.json": BATCH_JSON})
    lines = RECORDS.count("\n")
    with pa.ExportArchive(path, max_line_bytes=4096) as archive:
        records = archive.submissions()
        assert len([next(records) for _ in range(lines)]) == lines  # the good lines are read
        with pytest.raises(pa.ArchiveError, match=rf"line {lines + 1}: longer than 4,096 "
                                                  r"bytes \(max_line_bytes\)") as caught:
            next(records)
    assert (caught.value.member, caught.value.line) == ("responses-by-submission.jsonl",
                                                        lines + 1)


def test_a_huge_line_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "huge.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("responses-by-submission.jsonl", "w") as member:
            member.write(b'{"submission_id": "')
            for _ in range(32):
                member.write(b"a" * (1 << 20))  # one 32 MiB line, 32 KiB compressed
        archive.writestr("batch.json", BATCH_JSON)
    tracemalloc.start()
    try:
        with pa.ExportArchive(path, max_line_bytes=1 << 20) as archive, \
                pytest.raises(pa.ArchiveError, match="line 1: longer than 1 MiB"):
            next(archive.submissions())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"peak {peak / (1 << 20):.1f} MiB reading a refused 32 MiB line"


def test_batch_json_over_the_limit_is_refused_naming_it(tmp_path: Path) -> None:
    big = json.dumps({**json.loads(BATCH_JSON), "padding": "x" * 10_000})
    path = write_zip(tmp_path / "x.zip", {"batch.json": big})
    with pa.ExportArchive(path, max_line_bytes=4096) as archive, \
            pytest.raises(pa.ArchiveError, match=r"batch\.json is larger than 4,096 bytes") \
            as caught:
        _ = archive.info
    assert caught.value.member == "batch.json"


@pytest.mark.parametrize("member", ["responses-by-submission.jsonl", "batch.json"])
def test_json_nested_too_deeply_is_an_archive_error(tmp_path: Path, member: str) -> None:
    deep = "[" * 200_000 + "]" * 200_000 + "\n"
    members = {"responses-by-submission.jsonl": RECORDS, "batch.json": BATCH_JSON}
    members[member] = deep
    with pa.ExportArchive(write_zip(tmp_path / "x.zip", members)) as archive, \
            pytest.raises(pa.ArchiveError, match="nested too deeply") as caught:
        if member == "batch.json":
            _ = archive.info
        else:
            list(archive.submissions())
    assert caught.value.member == member


@pytest.mark.parametrize(("limits", "reason"), [
    ({"max_bytes": 5000}, "its 3 members declare 6,"),
    ({"max_members": 2}, "its 3 members"),
])
def test_extract_refuses_a_bomb_before_writing_anything(tmp_path: Path, limits: dict[str, int],
                                                         reason: str) -> None:
    path = write_zip(tmp_path / "bomb.zip", {"batch.json": BATCH_JSON,
                                             "files/a": b"\0" * 3000, "files/b": b"\0" * 3000})
    dest = tmp_path / "out"
    with pa.ExportArchive(path) as archive, \
            pytest.raises(pa.ArchiveError, match=rf"refusing to extract bomb\.zip: {reason}.*"
                                                 "nothing was written"):
        archive.extract(dest, **limits)
    assert not dest.exists()


def test_a_member_larger_than_it_declares_is_refused_and_nothing_extracted(
        tmp_path: Path) -> None:
    path = write_zip(tmp_path / "liar.zip", {"batch.json": BATCH_JSON,
                                             "files/big": b"\1" * 50_000})
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("files/big")
    raw = bytearray(path.read_bytes())
    # Declare 1,000 bytes in the local header and in the central directory.
    raw[info.header_offset + 22:info.header_offset + 26] = (1000).to_bytes(4, "little")
    central = raw.rindex(b"PK\x01\x02")  # files/big is the last member
    raw[central + 24:central + 28] = (1000).to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    dest = tmp_path / "out"
    dest.mkdir()
    with pa.ExportArchive(path) as archive, \
            pytest.raises(pa.ArchiveError, match=r"files/big is damaged") as caught:
        archive.extract(dest)
    assert caught.value.member == "files/big"
    assert list(dest.iterdir()) == []
