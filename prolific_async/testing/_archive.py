"""Export archives in the documented layout ("Exporting Batch Data"), and `Blob`, a body the
storage host can serve in ranges without holding it all in memory.

A batch archive holds ``responses-by-submission.jsonl``, ``responses-by-task.jsonl``,
``batch.json``, ``README.md`` and, when participants uploaded files,
``files/{submission_id}_{instruction_id}_{index}.{ext}``. A collection archive holds
``responses.jsonl`` (one record per submission), ``collection.json``, ``README.md`` and
``files/`` (the CLI's help for collection exports). Answers take the documented value shapes:
``value`` (free_text), ``value`` + ``unit`` (free_text_with_unit), ``values: [str]``
(multiple_choice), ``values: [{option, explanation}]`` (multiple_choice_with_free_text) and
``files: [{name, path}]`` (file_upload).

For benchmarks, a padding member of zeros (``padding.bin``, stored uncompressed) can make an
archive as large as wanted: it is served from one shared buffer of zeros, never built.
"""

from __future__ import annotations

import functools
import io
import json
import struct
import zipfile
import zlib
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import attrs

from ._clock import iso
from ._state import ExportRec, OwnerRec, World

__all__ = ["MAX_PADDING", "PADDING_NAME", "Blob", "build_export"]

PADDING_NAME = "padding.bin"
_CHUNK = 1 << 20
_ZEROS = bytes(_CHUNK)
# Without ZIP64 records, sizes and offsets must stay below 4 GiB.
MAX_PADDING = (1 << 32) - (64 << 20)


@attrs.frozen
class Blob:
    """A body to serve: ``head``, then ``zeros`` zero bytes, then ``tail``."""

    head: bytes
    zeros: int = 0
    tail: bytes = b""

    @property
    def size(self) -> int:
        return len(self.head) + self.zeros + len(self.tail)

    def chunks(self, start: int = 0, stop: int | None = None) -> Iterator[bytes | memoryview]:
        """The bytes ``[start, stop)``, in chunks of at most 1 MiB."""
        stop = self.size if stop is None else stop
        offset = 0
        for part in (self.head, self.zeros, self.tail):
            length = part if isinstance(part, int) else len(part)
            low, high = max(start, offset), min(stop, offset + length)
            for at in range(low, high, _CHUNK):
                end = min(high, at + _CHUNK)
                if isinstance(part, int):
                    yield memoryview(_ZEROS)[:end - at]
                else:
                    yield memoryview(part)[at - offset:end - offset]
            offset += length


def build_export(world: World, owner: OwnerRec, job: ExportRec, padding: int = 0) -> Blob:
    """The archive of ``job``: responses as of the moment the job completed, filtered like
    the job (``study_id``, ``from``, ``to``), plus ``padding`` zero bytes."""
    done_at = job.requested_at + world.export_generating
    questions = {q["id"]: q for q in world.questions(owner)}
    subs = [s for s in world.submissions(owner, until=done_at) if _kept(world, s, job.filter)]
    key = "batch_id" if owner.kind == "batch" else "collection_id"
    by_submission: list[dict[str, Any]] = []
    by_task: dict[str, list[dict[str, Any]]] = {}
    files: dict[str, bytes] = {}
    for sub in subs:
        created = iso(world.clock.datetime(sub["created_at"]))
        shaped = {qid: _shape(questions[qid], answer, sub["submission_id"], qid, files)
                  for qid, answer in sub["answers"].items()}
        for task in sub["tasks"]:
            by_task.setdefault(task["id"], []).append({
                "submission_id": sub["submission_id"], "participant_id": sub["participant_id"],
                "created_at": created, **shaped,
            })
        by_submission.append({
            "submission_id": sub["submission_id"], "participant_id": sub["participant_id"],
            key: owner.id, "created_at": created,
            "responses": {task["id"]: shaped for task in sub["tasks"]},
        })
    meta = {key: owner.id, "name": owner.body.get("name"),
            "exported_at": iso(world.clock.datetime(done_at)),
            "instructions": [{"id": q["id"], "type": q["type"],
                              "description": q.get("description")}
                             for q in questions.values()]}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if owner.kind == "batch":
            archive.writestr("responses-by-submission.jsonl", _jsonl(by_submission))
            archive.writestr("responses-by-task.jsonl", _jsonl(
                {"task_id": task_id, "batch_id": owner.id, "responses": rows}
                for task_id, rows in by_task.items()))
            archive.writestr("batch.json", json.dumps(meta, indent=2))
        else:
            archive.writestr("responses.jsonl", _jsonl(by_submission))
            archive.writestr("collection.json", json.dumps(meta, indent=2))
        archive.writestr("README.md", _README_BATCH if owner.kind == "batch"
                         else _README_COLLECTION)
        for path, data in files.items():
            archive.writestr(path, data)
    return _pad(buffer.getvalue(), padding) if padding else Blob(buffer.getvalue())


def _kept(world: World, sub: dict[str, Any], filters: dict[str, Any] | None) -> bool:
    if not filters:
        return True
    if filters.get("study_id") not in (None, sub["study_id"]):
        return False
    created = world.clock.datetime(sub["created_at"])
    start, end = _moment(filters.get("from")), _moment(filters.get("to"))
    return (start is None or created >= start) and (end is None or created <= end)


def _moment(value: Any) -> datetime | None:
    """A ``from``/``to`` bound; their formats are undocumented, so one that cannot be read
    filters nothing."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _shape(question: dict[str, Any], answer: list[dict[str, Any]], submission: str, qid: str,
           files: dict[str, bytes]) -> dict[str, Any]:
    """An answer in the archive's value shape; uploaded files are added to ``files``."""
    kind = question["type"]
    shaped: dict[str, Any] = {"type": kind, "description": question.get("description")}
    if kind == "multiple_choice":
        shaped["values"] = [a["value"] for a in answer]
    elif kind == "multiple_choice_with_free_text":
        shaped["values"] = [{"option": a["value"], "explanation": a["explanation"]}
                            for a in answer]
    elif kind == "file_upload":
        shaped["files"] = []
        for index, upload in enumerate(answer):
            ext = upload["file_name"].rpartition(".")[2] or "bin"
            path = f"files/{submission}_{qid}_{index}.{ext}"
            files[path] = f"fake {upload['content_type']} {upload['file_key']}\n".encode()
            shaped["files"].append({"name": upload["file_name"], "path": path})
    else:
        shaped["value"] = answer[0]["value"]
        if kind == "free_text_with_unit":
            shaped["unit"] = answer[0]["unit"]
    return shaped


def _jsonl(rows: Any) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


# DOS date and time of the padding member: 2026-01-01 00:00.
_DOS_DATE, _DOS_TIME = ((2026 - 1980) << 9) | (1 << 5) | 1, 0


@functools.lru_cache(maxsize=8)
def _zeros_crc(size: int) -> int:
    crc = 0
    for at in range(0, size, _CHUNK):
        crc = zlib.crc32(_ZEROS[:min(_CHUNK, size - at)], crc)
    return crc


def _pad(small: bytes, size: int) -> Blob:
    """``small`` (a ZIP) with a stored member of ``size`` zeros appended: the new member's
    local header after the existing members, its data as a run of zeros, then the central
    directory with one more entry and a new end record."""
    if size > MAX_PADDING:
        raise ValueError(f"export padding must be at most {MAX_PADDING} bytes")
    (_, _, _, _, entries, cd_size, cd_offset, _) = struct.unpack("<4s4H2LH", small[-22:])
    members, directory = small[:cd_offset], small[cd_offset:cd_offset + cd_size]
    name = PADDING_NAME.encode()
    crc = _zeros_crc(size)
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, zipfile.ZIP_STORED, _DOS_TIME,
                        _DOS_DATE, crc, size, size, len(name), 0) + name
    entry = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, zipfile.ZIP_STORED,
                        _DOS_TIME, _DOS_DATE, crc, size, size, len(name), 0, 0, 0, 0,
                        0o100644 << 16, len(members)) + name
    directory += entry
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, entries + 1, entries + 1,
                      len(directory), len(members) + len(local) + size, 0)
    return Blob(head=members + local, zeros=size, tail=directory + end)


_README_BATCH = """# Export

Made by the prolific_async fake server, in the layout of Prolific's batch exports.

```python
import pandas as pd
by_submission = pd.read_json("responses-by-submission.jsonl", lines=True)
by_task = pd.read_json("responses-by-task.jsonl", lines=True)
```

Uploaded files are in `files/{submission_id}_{instruction_id}_{index}.{ext}`.
"""

_README_COLLECTION = """# Export

Made by the prolific_async fake server, in the layout of Prolific's collection exports.

```python
import pandas as pd
responses = pd.read_json("responses.jsonl", lines=True)
```

Uploaded files are in `files/{submission_id}_{instruction_id}_{index}.{ext}`.
"""
