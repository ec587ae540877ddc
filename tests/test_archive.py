"""Export archives as data: typed records, every value shape, a flat table, safe extraction,
and clear errors for damaged archives. Archives are built in the documented layout from the
docs' own example records (tests/examples/docs-examples/export-archive/), and by the fake."""

from __future__ import annotations

import csv
import json
import re
import stat
import sys
import tempfile
import textwrap
import tracemalloc
import zipfile
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import prolific_async as pa
from prolific_async.testing import FakeProlific

from .conftest import EXAMPLES
from .helpers import DETAILS, published_study, ready_batch, ready_dataset

DOCS = EXAMPLES / "docs-examples" / "export-archive"
BY_SUBMISSION = json.loads((DOCS / "responses-by-submission.record.json").read_text())
BY_TASK = json.loads((DOCS / "responses-by-task.record.json").read_text())
BATCH_JSON = (DOCS / "batch.json").read_text()
PHOTO = "files/sub-abc123_0192a3b5-e3f4-7a5b-6c7d-9e0f1a2b3c4d_0.jpg"
TEXT_ID = "0192a3b4-e7f8-7a0b-1c2d-3e4f5a6b7c8d"
PHOTO_ID = "0192a3b5-e3f4-7a5b-6c7d-9e0f1a2b3c4d"
JPEG = b"\xff\xd8\xff\xe0 a red leather wallet"


def jsonl(*records: Any) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def write_zip(path: Path, members: dict[str, str | bytes],
              special: Sequence[tuple[zipfile.ZipInfo, bytes]] = ()) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name), data, zipfile.ZIP_DEFLATED)
        for info, data in special:
            archive.writestr(info, data)
    return path


def docs_members() -> dict[str, str | bytes]:
    """The documented layout, with the docs' example records."""
    return {
        "responses-by-submission.jsonl": jsonl(BY_SUBMISSION),
        "responses-by-task.jsonl": jsonl(BY_TASK),
        "batch.json": BATCH_JSON,
        "README.md": "# Export\n",
        PHOTO: JPEG,
    }


@pytest.fixture
def docs_zip(tmp_path: Path) -> Path:
    return write_zip(tmp_path / "export.zip", docs_members())


# -- the docs' example archive --------------------------------------------------------------


def test_docs_example_submission_record(docs_zip: Path) -> None:
    with pa.ExportArchive(docs_zip) as archive:
        assert archive.kind == "batch"
        [record] = archive.submissions()
    assert record == pa.SubmissionRecord(
        submission_id="sub-abc123", participant_id="part-def456",
        batch_id="0192a3b4-c5d6-7e8f-9a0b-1c2d3e4f5a6b",
        created_at=datetime(2026, 3, 19, 10, 30, tzinfo=timezone.utc),
        responses={"task-id-1": {
            TEXT_ID: pa.FreeTextValue(value="A red leather wallet with two card slots",
                                      description="Briefly describe the item shown"),
            PHOTO_ID: pa.FileUploadValue(
                files=[pa.UploadedFile(name="photo.jpg", path=PHOTO)],
                description="Upload a photo of the item"),
        }},
    )


def test_docs_example_task_record(docs_zip: Path) -> None:
    with pa.ExportArchive(docs_zip) as archive:
        [task] = archive.tasks()
    assert task.task_id == "task-xyz789" and task.batch_id == BY_SUBMISSION["batch_id"]
    assert [(s.submission_id, s.participant_id) for s in task.responses] == [
        ("sub-abc123", "part-def456"), ("sub-ghi789", "part-jkl012")]
    assert task.responses[1].created_at == datetime(2026, 3, 19, 11, 15, tzinfo=timezone.utc)
    assert task.responses[1].responses == {TEXT_ID: pa.FreeTextValue(
        value="Red bifold wallet, appears to be leather",
        description="Briefly describe the item shown")}


def test_batch_json_names_instructions_by_id(docs_zip: Path) -> None:
    with pa.ExportArchive(docs_zip) as archive:
        info = archive.batch
        assert archive.info is info
        with pytest.raises(pa.ArchiveError, match="batch export, not a collection"):
            _ = archive.collection
    assert info.kind == "batch" and info.id == "0192a3b4-c5d6-7e8f-9a0b-1c2d3e4f5a6b"
    assert info.name == "Product Image Annotation"
    assert info.exported_at == datetime(2026, 3, 19, 10, 30, tzinfo=timezone.utc)
    assert info.instructions[PHOTO_ID] == pa.ExportInstruction(
        id=PHOTO_ID, type=pa.InstructionType.FILE_UPLOAD,
        description="Upload a photo of the item")
    assert info.instructions[TEXT_ID].type is pa.InstructionType.FREE_TEXT


def test_uploaded_file_opens_by_its_record_path(docs_zip: Path) -> None:
    with pa.ExportArchive(docs_zip) as archive:
        [record] = archive.submissions()
        value = record.responses["task-id-1"][PHOTO_ID]
        assert isinstance(value, pa.FileUploadValue)
        [uploaded] = value.files
        with archive.open(uploaded) as data:
            assert data.read() == JPEG
        with archive.open(PHOTO) as data:
            assert data.read() == JPEG
        with pytest.raises(pa.ArchiveError, match=r"no member 'files/missing\.jpg'"):
            archive.open("files/missing.jpg")
        with pytest.raises(pa.ArchiveError, match="storage key"):
            archive.open(pa.UploadedFile(name="a.jpg", key="uploads/a.jpg"))


def test_extracted_paths_are_the_record_paths(docs_zip: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    with pa.ExportArchive(docs_zip) as archive:
        assert archive.extract(dest) == dest
    assert (dest / PHOTO).read_bytes() == JPEG  # "can be used directly after extraction"
    assert sorted(p.name for p in dest.iterdir()) == [
        "README.md", "batch.json", "files", "responses-by-submission.jsonl",
        "responses-by-task.jsonl"]


def test_rows_are_one_plain_dict_per_answer(docs_zip: Path) -> None:
    with pa.ExportArchive(docs_zip) as archive:
        rows = list(archive.rows())
        assert list(rows[0]) == list(archive.columns)
    assert rows == [
        {"batch_id": "0192a3b4-c5d6-7e8f-9a0b-1c2d3e4f5a6b", "submission_id": "sub-abc123",
         "participant_id": "part-def456",
         "created_at": datetime(2026, 3, 19, 10, 30, tzinfo=timezone.utc),
         "task_id": "task-id-1", "instruction_id": TEXT_ID, "instruction_type": "free_text",
         "instruction_description": "Briefly describe the item shown",
         "value": "A red leather wallet with two card slots", "unit": None,
         "explanation": None, "files": None},
        {"batch_id": "0192a3b4-c5d6-7e8f-9a0b-1c2d3e4f5a6b", "submission_id": "sub-abc123",
         "participant_id": "part-def456",
         "created_at": datetime(2026, 3, 19, 10, 30, tzinfo=timezone.utc),
         "task_id": "task-id-1", "instruction_id": PHOTO_ID, "instruction_type": "file_upload",
         "instruction_description": "Upload a photo of the item",
         "value": None, "unit": None, "explanation": None, "files": PHOTO},
    ]


# -- every value shape ----------------------------------------------------------------------

ALL_SHAPES: dict[str, tuple[dict[str, Any], pa.ResponseValue]] = {
    "i-text": ({"type": "free_text", "description": "Describe", "value": "red"},
               pa.FreeTextValue(value="red", description="Describe")),
    "i-unit": ({"type": "free_text_with_unit", "description": "Weight", "value": "1.5",
                "unit": "kg"},
               pa.FreeTextWithUnitValue(value="1.5", unit="kg", description="Weight")),
    "i-choice": ({"type": "multiple_choice", "description": "Colour", "values": ["red", "blue"]},
                 pa.MultipleChoiceValue(values=["red", "blue"], description="Colour")),
    "i-why": ({"type": "multiple_choice_with_free_text", "description": "Better?",
               "values": [{"option": "a", "explanation": "clearer"},
                          {"option": "b", "explanation": "shorter"}]},
              pa.MultipleChoiceWithFreeTextValue(
                  values=[pa.ExplainedChoice(option="a", explanation="clearer"),
                          pa.ExplainedChoice(option="b", explanation="shorter")],
                  description="Better?")),
    "i-file": ({"type": "file_upload", "description": "Photo",
                "files": [{"name": "a.png", "path": "files/s_i-file_0.png"},
                          {"name": "b.png", "path": "files/s_i-file_1.png"}]},
               pa.FileUploadValue(files=[
                   pa.UploadedFile(name="a.png", path="files/s_i-file_0.png"),
                   pa.UploadedFile(name="b.png", path="files/s_i-file_1.png")],
                   description="Photo")),
    "i-new": ({"type": "ranking", "description": "Rank", "order": ["b", "a"]},
              pa.UnknownValue(type=pa.InstructionType("ranking"), description="Rank",
                              data={"type": "ranking", "description": "Rank",
                                    "order": ["b", "a"]})),
    "i-odd": ({"type": "free_text", "value": 42},
              pa.UnknownValue(type=pa.InstructionType.FREE_TEXT,
                              data={"type": "free_text", "value": 42})),
}


def shapes_archive(path: Path) -> Path:
    answers = {iid: data for iid, (data, _) in ALL_SHAPES.items()}
    submission = {"submission_id": "s", "participant_id": "p", "batch_id": "b",
                  "created_at": "2026-03-19T10:30:00.123Z", "responses": {"t": answers}}
    task = {"task_id": "t", "batch_id": "b", "responses": [
        {"submission_id": "s", "participant_id": "p", "created_at": "2026-03-19T10:30:00Z",
         **answers}]}
    batch = {"batch_id": "b", "name": "n", "instructions": [
        {"id": iid, "type": data["type"], "description": f"from batch.json: {iid}"}
        for iid, (data, _) in ALL_SHAPES.items()]}
    return write_zip(path, {"responses-by-submission.jsonl": jsonl(submission),
                            "responses-by-task.jsonl": jsonl(task),
                            "batch.json": json.dumps(batch)})


def test_every_value_shape_is_its_own_type_and_unknown_ones_are_kept(tmp_path: Path) -> None:
    expected = {iid: value for iid, (_, value) in ALL_SHAPES.items()}
    with pa.ExportArchive(shapes_archive(tmp_path / "x.zip")) as archive:
        [record] = archive.submissions()
        [task] = archive.tasks()
    assert record.responses == {"t": expected}
    assert task.responses[0].responses == expected
    assert record.created_at == datetime(2026, 3, 19, 10, 30, 0, 123000, tzinfo=timezone.utc)
    assert pa.InstructionType("ranking").known is False


def test_rows_flatten_every_shape(tmp_path: Path) -> None:
    with pa.ExportArchive(shapes_archive(tmp_path / "x.zip")) as archive:
        rows = {r["instruction_id"]: r for r in archive.rows(sep=";")}

    def cells(iid: str) -> tuple[Any, ...]:
        row = rows[iid]
        return (row["instruction_type"], row["value"], row["unit"], row["explanation"],
                row["files"])

    assert cells("i-text") == ("free_text", "red", None, None, None)
    assert cells("i-unit") == ("free_text_with_unit", "1.5", "kg", None, None)
    assert cells("i-choice") == ("multiple_choice", "red;blue", None, None, None)
    assert cells("i-why") == ("multiple_choice_with_free_text", "a;b", None, "clearer;shorter",
                              None)
    assert cells("i-file") == ("file_upload", None, None, None,
                               "files/s_i-file_0.png;files/s_i-file_1.png")
    assert json.loads(rows["i-new"]["value"])["order"] == ["b", "a"]
    # A value without its own description takes the one batch.json gives.
    assert rows["i-odd"]["instruction_description"] == "from batch.json: i-odd"
    assert rows["i-text"]["instruction_description"] == "Describe"


texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
values = st.one_of(
    st.builds(pa.FreeTextValue, value=texts, description=texts),
    st.builds(pa.FreeTextWithUnitValue, value=texts, unit=texts, description=texts),
    st.builds(pa.MultipleChoiceValue, values=st.lists(texts, max_size=3), description=texts),
    st.builds(pa.MultipleChoiceWithFreeTextValue, description=texts, values=st.lists(
        st.builds(pa.ExplainedChoice, option=texts, explanation=texts), max_size=3)),
    st.builds(pa.FileUploadValue, description=texts, files=st.lists(
        st.builds(pa.UploadedFile, name=texts, path=texts), max_size=3)),
)


def as_archive_json(value: pa.ResponseValue) -> dict[str, Any]:
    """The documented value shapes (the "Response value shapes" table)."""
    data: dict[str, Any] = {"type": value.type.value, "description": value.description}
    if isinstance(value, (pa.FreeTextValue, pa.FreeTextWithUnitValue)):
        data["value"] = value.value
    if isinstance(value, pa.FreeTextWithUnitValue):
        data["unit"] = value.unit
    if isinstance(value, pa.MultipleChoiceValue):
        data["values"] = value.values
    if isinstance(value, pa.MultipleChoiceWithFreeTextValue):
        data["values"] = [{"option": v.option, "explanation": v.explanation}
                          for v in value.values]
    if isinstance(value, pa.FileUploadValue):
        data["files"] = [{"name": f.name, "path": f.path} for f in value.files]
    return data


@settings(max_examples=60, deadline=None)
@given(answers=st.dictionaries(texts.filter(bool), values, max_size=4))
def test_value_shapes_round_trip(answers: dict[str, pa.ResponseValue]) -> None:
    record = {"submission_id": "s", "responses": {
        "t": {iid: as_archive_json(v) for iid, v in answers.items()}}}
    with tempfile.TemporaryDirectory() as folder:
        path = write_zip(Path(folder) / "x.zip", {
            "responses-by-submission.jsonl": jsonl(record)})
        with pa.ExportArchive(path) as archive:
            [read] = archive.submissions()
    assert read.responses == ({"t": answers} if answers else {"t": {}})


# -- collections ----------------------------------------------------------------------------


def test_collection_export(tmp_path: Path) -> None:
    text = {"type": "free_text", "description": "Anything to add?", "value": "no"}
    path = write_zip(tmp_path / "c.zip", {
        "responses.jsonl": jsonl(
            {"submission_id": "s1", "participant_id": "p1", "collection_id": "c",
             "responses": {"page-1": {"i1": text}}},
            # Answers by instruction directly: a collection has no tasks.
            {"submission_id": "s2", "participant_id": "p2", "responses": {"i1": text}}),
        "collection.json": json.dumps({"collection_id": "c", "name": "survey", "instructions": [
            {"id": "i1", "type": "free_text", "description": "Anything to add?"}]}),
        "README.md": "# Export\n",
    })
    value = pa.FreeTextValue(value="no", description="Anything to add?")
    with pa.ExportArchive(path) as archive:
        assert archive.kind == "collection" and archive.collection.id == "c"
        first, second = archive.responses()
        assert list(archive.submissions()) == [first, second]
        assert first.responses == {"page-1": {"i1": value}} and first.collection_id == "c"
        assert second.responses == {"": {"i1": value}}
        rows = list(archive.rows())
        with pytest.raises(pa.ArchiveError, match=r"no responses-by-task\.jsonl"):
            archive.tasks()
        with pytest.raises(pa.ArchiveError, match="collection export, not a batch"):
            _ = archive.batch
    assert [(r["collection_id"], r["task_id"], r["value"]) for r in rows] == [
        ("c", "page-1", "no"), (None, None, "no")]


def test_batch_export_has_no_collection_responses(docs_zip: Path) -> None:
    with pa.ExportArchive(docs_zip) as archive, \
            pytest.raises(pa.ArchiveError, match="use submissions"):
        archive.responses()


# -- streaming ------------------------------------------------------------------------------


def test_records_stream_in_constant_memory(tmp_path: Path) -> None:
    answer = {"type": "free_text", "description": "Describe it", "value": "x" * 300}
    line = json.dumps({"submission_id": "s", "participant_id": "p", "batch_id": "b",
                       "created_at": "2026-03-19T10:30:00Z",
                       "responses": {"t": {"i": answer}}}) + "\n"
    member = line * 16_000  # about 6 MB, which deflates to a few KB
    path = write_zip(tmp_path / "big.zip", {"responses-by-submission.jsonl": member})
    with pa.ExportArchive(path) as archive:
        tracemalloc.start()
        try:
            count = sum(1 for _ in archive.submissions())
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert count == 16_000
    assert peak < len(member) / 10, f"peak {peak} bytes for a {len(member)}-byte member"


# -- damaged archives -----------------------------------------------------------------------


def test_truncated_zip_is_a_clear_error(docs_zip: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.zip"
    cut.write_bytes(docs_zip.read_bytes()[:200])
    with pytest.raises(pa.ArchiveError, match=r"cut\.zip is not a readable ZIP archive"):
        pa.ExportArchive(cut)


def test_a_zip_that_is_not_an_export_is_a_clear_error(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "other.zip", {"hello.txt": "hi"})
    with pytest.raises(pa.ArchiveError, match="not a Prolific export"):
        pa.ExportArchive(path)


def test_bad_json_line_names_member_and_line(tmp_path: Path) -> None:
    good = {"submission_id": "s", "responses": {}}
    path = write_zip(tmp_path / "x.zip", {
        "responses-by-submission.jsonl": jsonl(good) + '{"submission_id": "s2", \n' + jsonl(good),
        "responses-by-task.jsonl": jsonl({"task_id": "t", "responses": [{"participant_id": 1}]}),
    })
    with pa.ExportArchive(path) as archive:
        records = archive.submissions()
        assert next(records).submission_id == "s"
        with pytest.raises(pa.ArchiveError,
                           match=r"responses-by-submission\.jsonl line 2: not valid JSON") as bad:
            next(records)
        assert (bad.value.member, bad.value.line) == ("responses-by-submission.jsonl", 2)
        with pytest.raises(pa.ArchiveError,
                           match=r"responses-by-task\.jsonl line 1: no submission_id"):
            list(archive.tasks())


def corrupt_member(path: Path, name: str) -> None:
    """Flip bytes in the middle of one member's compressed data."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    raw = bytearray(path.read_bytes())
    header = info.header_offset
    start = header + 30 + int.from_bytes(raw[header + 26:header + 28], "little") \
        + int.from_bytes(raw[header + 28:header + 30], "little")
    middle = start + info.compress_size // 2
    raw[middle:middle + 8] = bytes(b ^ 0x5A for b in raw[middle:middle + 8])
    path.write_bytes(bytes(raw))


def test_damaged_member_names_the_member(tmp_path: Path) -> None:
    records = [{"submission_id": f"s{i}", "participant_id": f"p{i}", "responses": {}}
               for i in range(2000)]
    path = write_zip(tmp_path / "x.zip", {"responses-by-submission.jsonl": jsonl(*records)})
    corrupt_member(path, "responses-by-submission.jsonl")
    with pa.ExportArchive(path) as archive, pytest.raises(pa.ArchiveError) as bad:
        list(archive.submissions())
    # The garbage decoded before the CRC check is not blamed on the JSON: the member is.
    assert bad.value.member == "responses-by-submission.jsonl" and bad.value.line
    assert "responses-by-submission.jsonl is damaged (truncated or corrupt?) after line" \
        in str(bad.value)


def test_missing_member_is_a_clear_error(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "x.zip", {"responses-by-submission.jsonl": ""})
    with pa.ExportArchive(path) as archive:
        assert list(archive.submissions()) == []
        with pytest.raises(pa.ArchiveError, match=r"has no responses-by-task\.jsonl"):
            archive.tasks()
        with pytest.raises(pa.ArchiveError, match=r"has no batch\.json"):
            _ = archive.info


# -- safe extraction ------------------------------------------------------------------------


def special(name: str, mode: int = 0, data: bytes = b"evil") -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix: the mode bits in external_attr mean what they say
    info.external_attr = mode << 16
    return info, data


def assert_nothing_written(tmp_path: Path, dest: Path) -> None:
    assert not dest.exists() or list(dest.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.zip"] + (
        ["out"] if dest.exists() else [])


@pytest.mark.parametrize(("name", "mode", "reason"), [
    ("../evil", 0, "climbs out"),
    ("files/../../evil", 0, "climbs out"),
    ("C:/evil", 0, "drive letter"),
    ("files\\..\\..\\evil", 0, "backslash"),
    ("files/link", stat.S_IFLNK | 0o777, "symbolic link"),
    ("files/pipe", stat.S_IFIFO | 0o644, "not a regular file"),
])
def test_malicious_member_is_refused_before_anything_is_written(
    tmp_path: Path, name: str, mode: int, reason: str
) -> None:
    # The good members come first: a refusal after writing them would leave them half-done.
    path = write_zip(tmp_path / "evil.zip", docs_members(), [special(name, mode, b"../../x")])
    dest = tmp_path / "out"
    with pa.ExportArchive(path) as archive, pytest.raises(pa.ArchiveError, match=reason) as bad:
        archive.extract(dest)
    assert bad.value.member == name and "nothing was written" in str(bad.value)
    assert_nothing_written(tmp_path, dest)


def test_absolute_member_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "abs-evil"
    path = write_zip(tmp_path / "evil.zip", docs_members(), [special(str(target))])
    with pa.ExportArchive(path) as archive, pytest.raises(pa.ArchiveError, match="absolute"):
        archive.extract(tmp_path / "out")
    assert not target.exists()
    assert_nothing_written(tmp_path, tmp_path / "out")


def test_symlink_already_in_dest_is_not_followed_out(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "files").symlink_to(outside)
    with pa.ExportArchive(write_zip(tmp_path / "x.zip", docs_members())) as archive, \
            pytest.raises(pa.ArchiveError, match="outside the destination"):
        archive.extract(dest)
    assert list(outside.iterdir()) == []
    assert sorted(p.name for p in dest.iterdir()) == ["files"]


def test_member_twice_or_file_and_folder_is_refused(tmp_path: Path) -> None:
    twice = tmp_path / "twice.zip"
    with zipfile.ZipFile(twice, "w") as archive:
        archive.writestr("batch.json", "{}")
        with pytest.warns(UserWarning, match="Duplicate"):
            archive.writestr("batch.json", "{}")
    # Two members of one name: refused on opening, for reading as for extracting.
    with pytest.raises(pa.ArchiveError, match=r"member 'batch\.json' appears twice"):
        pa.ExportArchive(twice)
    clash = write_zip(tmp_path / "clash.zip", {"batch.json": "{}", "files": "x", "files/a": "y"})
    dest = tmp_path / clash.stem
    with pa.ExportArchive(clash) as archive, \
            pytest.raises(pa.ArchiveError, match="both a file and a folder"):
        archive.extract(dest)
    assert list(dest.iterdir()) == []


def test_damaged_member_leaves_dest_as_it_was(tmp_path: Path) -> None:
    members = docs_members()
    members["files/zz-big.bin"] = bytes(range(256)) * 4000
    path = write_zip(tmp_path / "x.zip", members)
    corrupt_member(path, "files/zz-big.bin")
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "mine.txt").write_text("kept")
    with pa.ExportArchive(path) as archive, \
            pytest.raises(pa.ArchiveError, match=r"zz-big\.bin is damaged"):
        archive.extract(dest)
    # The members read before the damaged one were staged, never moved in; staging is gone.
    assert [p.name for p in dest.iterdir()] == ["mine.txt"]


def test_extract_into_a_folder_with_files_keeps_them(docs_zip: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    (dest / "files").mkdir(parents=True)
    (dest / "files" / "mine.jpg").write_bytes(b"mine")
    with pa.ExportArchive(docs_zip) as archive:
        archive.extract(dest)
    assert (dest / "files" / "mine.jpg").read_bytes() == b"mine"
    assert (dest / PHOTO).read_bytes() == JPEG
    assert not [p for p in dest.iterdir() if p.name.startswith(".")]


# -- the table through pandas and csv -------------------------------------------------------


def test_to_pandas(tmp_path: Path) -> None:
    pytest.importorskip("pandas")
    with pa.ExportArchive(shapes_archive(tmp_path / "x.zip")) as archive:
        frame = archive.to_pandas()
        assert list(frame.columns) == list(archive.columns)
    assert len(frame) == len(ALL_SHAPES)
    assert set(frame["instruction_type"]) == {
        "free_text", "free_text_with_unit", "multiple_choice", "multiple_choice_with_free_text",
        "file_upload", "ranking"}
    assert str(frame["created_at"].dt.tz) == "UTC"


def test_to_pandas_without_pandas_names_the_extra(docs_zip: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # what an uninstalled module looks like
    with pa.ExportArchive(docs_zip) as archive, \
            pytest.raises(ImportError, match=r"prolific-async\[pandas\]"):
        archive.to_pandas()


def test_to_csv(docs_zip: Path, tmp_path: Path) -> None:
    with pa.ExportArchive(docs_zip) as archive:
        path = archive.to_csv(tmp_path / "answers.csv")
        expected = list(archive.rows())
    with path.open(newline="") as handle:
        read = list(csv.DictReader(handle))
    assert [r["instruction_id"] for r in read] == [TEXT_ID, PHOTO_ID]
    assert read[0]["value"] == expected[0]["value"] and read[1]["files"] == PHOTO
    assert read[0]["created_at"] == "2026-03-19 10:30:00+00:00"


# -- archives the fake generates ------------------------------------------------------------

EVERY_TYPE: list[pa.Instruction] = [
    pa.FreeText(description="Describe it"),
    pa.FreeTextWithUnit(description="How heavy?", unit_options=[
        pa.UnitOption(label="Kilograms", value="kg")]),
    pa.MultipleChoice(description="Colour?", answer_limit=1, options=[
        pa.Option(label="Red", value="red"), pa.Option(label="Blue", value="blue")]),
    pa.MultipleChoiceWithFreeText(description="Better?", answer_limit=1, options=[
        pa.Option(label="A", value="a", heading="Why?")]),
    pa.FileUpload(description="A photo", accepted_file_types=[".jpg"]),
]


@pytest.mark.anyio
async def test_fake_export_reads_as_typed_records_matching_the_api(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific, tmp_path: Path
) -> None:
    dataset = await ready_dataset(prolific_client, fake_prolific)
    batch = await prolific_client.batches.create(
        name="every-type", workspace_id=fake_prolific.workspace_id, dataset_id=dataset.id,
        task_details=DETAILS)
    await prolific_client.instructions.create(batch.id, EVERY_TYPE)
    await prolific_client.batches.setup(batch.id)
    fake_prolific.clock.advance(fake_prolific.world.batch_setup)
    study = await prolific_client.studies.create(pa.StudyCreate(
        name="s", description="d", data_collection_id=batch.id, total_available_places=3,
        reward=100, estimated_completion_time=5))
    await prolific_client.studies.publish(study.id)
    fake_prolific.clock.advance(10 * fake_prolific.world.submission_interval)
    api = {(r.submission_id, r.task_id, r.response.instruction_id): r.value
           async for r in prolific_client.batches.responses(batch.id)}
    fake_prolific.clock.per_request = 0.5
    path = await prolific_client.batches.export(batch.id, tmp_path)

    with pa.ExportArchive(path) as archive:
        instructions = archive.batch.instructions
        assert archive.batch.id == batch.id
        records = list(archive.submissions())
        by_task = list(archive.tasks())
        answers = {(r.submission_id, task_id, iid): value for r in records
                   for task_id, values in r.responses.items() for iid, value in values.items()}
        for value in answers.values():
            if isinstance(value, pa.FileUploadValue):
                for uploaded in value.files:
                    with archive.open(uploaded) as data:
                        assert data.read()
        rows = list(archive.rows())

    assert len(records) == 3
    assert {type(v) for v in answers.values()} == {
        pa.FreeTextValue, pa.FreeTextWithUnitValue, pa.MultipleChoiceValue,
        pa.MultipleChoiceWithFreeTextValue, pa.FileUploadValue}
    for (_, _, iid), value in answers.items():
        assert value.type == instructions[iid].type
        assert value.description == instructions[iid].description
    # The two JSONL files are two views of the same answers.
    assert {(s.submission_id, t.task_id, iid): v for t in by_task for s in t.responses
            for iid, v in s.responses.items()} == answers
    # And they are the answers the API gave, but for what only one source carries.
    assert set(api) == set(answers)
    for key, value in answers.items():
        if isinstance(value, pa.FileUploadValue):
            from_api = api[key]
            assert isinstance(from_api, pa.FileUploadValue)
            assert [f.name for f in from_api.files] == [f.name for f in value.files]
        else:
            assert api[key] == attrs.evolve(value, description=None)
    assert len(rows) == 3 * len(EVERY_TYPE)


@pytest.mark.anyio
async def test_readme_getting_the_data_out_runs(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("pandas")
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme.split("## Getting the data out\n", 1)[1].split("\n## ", 1)[0]
    code = re.findall(r"```python\n(.*?)```", section, re.DOTALL)[0]
    batch = await ready_batch(prolific_client, fake_prolific)
    await published_study(prolific_client, fake_prolific, batch, places=2)
    fake_prolific.clock.advance(10)
    fake_prolific.clock.per_request = 0.5
    monkeypatch.chdir(tmp_path)
    namespace = {"pa": pa, "client": prolific_client, "batch": batch}
    exec(compile("async def example():\n" + textwrap.indent(code, "    "), "README.md", "exec"),
         namespace)
    await namespace["example"]()
    out = capsys.readouterr().out
    assert "Which response is better?" in out and "Why?" in out
    assert (tmp_path / "out" / "export" / "batch.json").exists()
    assert len(list((tmp_path / "out").glob("*-report-*.csv"))) == 1


@pytest.mark.anyio
async def test_fake_collection_export_reads_as_typed_records(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific, tmp_path: Path
) -> None:
    col = await prolific_client.collections.create(
        name="survey", workspace_id=fake_prolific.workspace_id, task_details=DETAILS,
        collection_items=[pa.CollectionPage(order=0, page_items=[
            pa.FreeText(order=0, description="Anything to add?"),
            pa.MultipleChoice(order=1, description="Colour?", answer_limit=1, options=[
                pa.Option(label="Red", value="red"), pa.Option(label="Blue", value="blue")]),
        ])])
    study = await prolific_client.studies.create(pa.StudyCreate(
        name="s", description="d", data_collection_id=col.id, total_available_places=2,
        reward=100, estimated_completion_time=5,
        data_collection_method=pa.DataCollectionMethod.AI_TASK_BUILDER_COLLECTION))
    await prolific_client.studies.publish(study.id)
    fake_prolific.clock.advance(5)
    fake_prolific.clock.per_request = 0.5
    path = await prolific_client.collections.export(col.id, tmp_path)
    with pa.ExportArchive(path) as archive:
        assert archive.kind == "collection" and archive.collection.id == col.id
        records = list(archive.responses())
        rows = list(archive.rows())
    assert len(records) == 2
    values = [v for r in records for answers in r.responses.values() for v in answers.values()]
    assert sorted(type(v).__name__ for v in values) == [
        "FreeTextValue", "FreeTextValue", "MultipleChoiceValue", "MultipleChoiceValue"]
    assert {r["collection_id"] for r in rows} == {col.id}
