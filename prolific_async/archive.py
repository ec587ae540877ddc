"""Reading a downloaded export ZIP: typed records, a flat table, and safe extraction.

A batch export holds ``responses-by-submission.jsonl``, ``responses-by-task.jsonl``,
``batch.json``, ``README.md`` and ``files/``; a collection export holds ``responses.jsonl``,
``collection.json``, ``README.md`` and ``files/`` (Prolific's "Exporting Batch Data" page).
`ExportArchive` reads either kind, telling them apart by their members::

    with pa.ExportArchive("out/batch-export.zip") as archive:
        for record in archive.submissions():                 # one pa.SubmissionRecord a line
            for task_id, answers in record.responses.items():
                for instruction_id, value in answers.items():
                    print(archive.info.instructions[instruction_id].description, value)
        frame = archive.to_pandas()                          # one row per answer
        archive.extract("out/export/")                       # refuses paths escaping it

The JSONL members are read one line at a time through a streaming decompressor, so an export
of any size is read in constant memory. Reading is blocking file I/O, like `zipfile` itself;
from async code, run a whole read in a worker thread (``anyio.to_thread.run_sync``).
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import os
import secrets
import shutil
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import IO, Any, Literal, TypeVar, cast

from ._errors import ArchiveError
from ._models.responses import (
    ExportInfo,
    FileUploadValue,
    FreeTextValue,
    FreeTextWithUnitValue,
    MultipleChoiceValue,
    MultipleChoiceWithFreeTextValue,
    ResponseValue,
    SubmissionRecord,
    TaskRecord,
    UploadedFile,
)
from ._records import BadRecord, export_info, submission_record, task_record

__all__ = ["ArchiveError", "ExportArchive"]

R = TypeVar("R")

BY_SUBMISSION = "responses-by-submission.jsonl"
BY_TASK = "responses-by-task.jsonl"
BATCH_INFO = "batch.json"
COLLECTION_RESPONSES = "responses.jsonl"
COLLECTION_INFO = "collection.json"

MiB = 1 << 20

#: The largest record line or ``batch.json`` read by default (each is parsed whole in memory).
MAX_LINE_BYTES = 64 * MiB
#: What `ExportArchive.extract` writes at most by default: the members' declared total size and
#: their count (an 8 MB ZIP may declare 2 GiB of zeros).
MAX_EXTRACT_BYTES = 1 << 30
MAX_EXTRACT_MEMBERS = 100_000

#: The columns of `ExportArchive.rows` after the batch_id / collection_id column.
ROW_COLUMNS = (
    "submission_id", "participant_id", "created_at", "task_id", "instruction_id",
    "instruction_type", "instruction_description", "value", "unit", "explanation", "files",
)


class ExportArchive:
    """A downloaded batch or collection export ZIP (see the module docstring for an example).

    ``kind`` is ``"batch"`` or ``"collection"``. A file that is not a readable ZIP (truncated,
    corrupt), not a Prolific export, or with two members of one name is an `ArchiveError` at
    once; a damaged member, a bad JSON line, a line or ``batch.json`` over ``max_line_bytes``
    (64 MiB by default; read in bounded memory, never whole) or JSON nested too deeply to
    parse is one when it is read, naming the member and the line.

    Example::

        with pa.ExportArchive(path, max_line_bytes=256 << 20) as archive:
            print(archive.info.name)
    """

    def __init__(self, path: str | os.PathLike[str], *,
                 max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self.path: Path = Path(path)
        if isinstance(max_line_bytes, bool) or not isinstance(max_line_bytes, int) \
                or max_line_bytes < 1:
            raise ValueError(f"max_line_bytes must be an integer >= 1, got {max_line_bytes!r}")
        self.max_line_bytes: int = max_line_bytes
        try:
            self._zip = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
            raise ArchiveError(
                f"{self.path} is not a readable ZIP archive (truncated or corrupt?): {exc}"
            ) from exc
        names = self._zip.namelist()
        self._names = set(names)
        if len(self._names) != len(names):
            # Which copy a reader gets is up to the reader (zipfile: the last); refuse both.
            twice = _first_repeated(names)
            self._zip.close()
            raise ArchiveError(f"{self.path.name}: member {twice!r} appears twice",
                               member=twice)
        self.kind: Literal["batch", "collection"]
        if self._names & {BY_SUBMISSION, BY_TASK, BATCH_INFO}:
            self.kind = "batch"
        elif self._names & {COLLECTION_RESPONSES, COLLECTION_INFO}:
            self.kind = "collection"
        else:
            self._zip.close()
            raise ArchiveError(
                f"{self.path} is not a Prolific export: it has none of {BY_SUBMISSION}, "
                f"{BATCH_INFO}, {COLLECTION_RESPONSES} or {COLLECTION_INFO}")
        self._info: ExportInfo | None = None

    def __repr__(self) -> str:
        return f"ExportArchive({str(self.path)!r}, kind={self.kind!r})"

    def __enter__(self) -> ExportArchive:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()

    # -- metadata -------------------------------------------------------------------------

    @property
    def info(self) -> ExportInfo:
        """``batch.json`` or ``collection.json``: the export's id, name, and instructions by id."""
        if self._info is None:
            member = BATCH_INFO if self.kind == "batch" else COLLECTION_INFO
            try:
                self._info = export_info(self.kind, self._json(member))
            except BadRecord as exc:
                raise ArchiveError(f"{member}: {exc}", member=member) from None
        return self._info

    @property
    def batch(self) -> ExportInfo:
        """``batch.json`` of a batch export (`ArchiveError` on a collection export)."""
        return self._of_kind("batch")

    @property
    def collection(self) -> ExportInfo:
        """``collection.json`` of a collection export (`ArchiveError` on a batch export)."""
        return self._of_kind("collection")

    def _of_kind(self, kind: str) -> ExportInfo:
        if self.kind != kind:
            raise ArchiveError(f"{self.path.name} is a {self.kind} export, not a {kind} export: "
                               f"use .info or .{self.kind}")
        return self.info

    # -- records --------------------------------------------------------------------------

    def submissions(self) -> Iterator[SubmissionRecord]:
        """One `SubmissionRecord` per line of ``responses-by-submission.jsonl`` (a
        collection's ``responses.jsonl``), read as it goes."""
        member = BY_SUBMISSION if self.kind == "batch" else COLLECTION_RESPONSES
        return self._records(member, submission_record)

    def tasks(self) -> Iterator[TaskRecord]:
        """One `TaskRecord` per line of ``responses-by-task.jsonl`` (batch exports only)."""
        if self.kind != "batch":
            raise ArchiveError(f"a collection export has no {BY_TASK}: use submissions()")
        return self._records(BY_TASK, task_record)

    def responses(self) -> Iterator[SubmissionRecord]:
        """The records of a collection export's ``responses.jsonl`` (on a batch export, use
        `submissions` or `tasks`)."""
        if self.kind != "collection":
            raise ArchiveError(f"a batch export has no {COLLECTION_RESPONSES}: use "
                               "submissions() or tasks()")
        return self.submissions()

    def _records(self, member: str, parse: Callable[[Any], R]) -> Iterator[R]:
        if member not in self._names:
            raise ArchiveError(f"{self.path.name} has no {member}", member=member)
        return self._read_lines(member, parse)

    def _read_lines(self, member: str, parse: Callable[[Any], R]) -> Iterator[R]:
        number = 0
        limit = self.max_line_bytes
        try:
            # zipfile's own readline is Python code, a byte at a time past its buffer; a
            # BufferedReader's is C.
            with self._zip.open(member) as zipped, \
                    io.BufferedReader(cast(Any, zipped), _PIECE) as raw:
                for line in _bounded_lines(raw, limit):
                    number += 1
                    if line is None:
                        raise ArchiveError(
                            f"{member} line {number}: longer than {_size(limit)} "
                            "(max_line_bytes); not read", member=member, line=number)
                    if line.isspace():
                        continue
                    try:
                        data = _loads(line)
                    except ValueError as exc:
                        # Damaged compressed data often decodes to garbage before the CRC at
                        # the end can say so: read on, so the error names the real cause.
                        _drain(raw)
                        raise ArchiveError(f"{member} line {number}: not valid JSON: {exc}",
                                           member=member, line=number) from exc
                    try:
                        record = parse(data)
                    except (BadRecord, RecursionError) as exc:
                        raise ArchiveError(f"{member} line {number}: {_reason(exc)}",
                                           member=member, line=number) from None
                    yield record
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise ArchiveError(
                f"{member} is damaged (truncated or corrupt?) after line {number}: {exc}",
                member=member, line=number + 1) from exc

    def _json(self, member: str) -> Any:
        if member not in self._names:
            raise ArchiveError(f"{self.path.name} has no {member}", member=member)
        limit = self.max_line_bytes
        if self._zip.getinfo(member).file_size > limit:
            raise ArchiveError(f"{member} is larger than {_size(limit)} (max_line_bytes); "
                               "not read", member=member)
        try:
            with self._zip.open(member) as raw:
                data = raw.read(limit + 1)  # the declared size may lie
            if len(data) > limit:
                raise ArchiveError(f"{member} is larger than {_size(limit)} (max_line_bytes); "
                                   "not read", member=member)
            return _loads(data)
        except ValueError as exc:
            raise ArchiveError(f"{member} is not valid JSON: {exc}", member=member) from exc
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise ArchiveError(f"{member} is damaged (truncated or corrupt?): {exc}",
                               member=member) from exc

    # -- uploaded files ---------------------------------------------------------------------

    def open(self, file: str | UploadedFile) -> IO[bytes]:
        """Open an uploaded file by the ``path`` its record gives (or the `UploadedFile`)::

            for f in value.files:
                with archive.open(f) as data:
                    image = data.read()
        """
        name = file.path if isinstance(file, UploadedFile) else file
        if name is None:
            raise ArchiveError("this file has no path in an archive (API responses give a "
                               "storage key instead)")
        try:
            info = self._zip.getinfo(name)
        except KeyError:
            raise ArchiveError(f"{self.path.name} has no member {name!r}", member=name) from None
        reason = _unsafe(info)
        if reason is not None:
            raise ArchiveError(f"refusing member {name!r}: {reason}", member=name)
        return self._zip.open(info)

    def extract(self, dest: str | os.PathLike[str], *, max_bytes: int = MAX_EXTRACT_BYTES,
                max_members: int = MAX_EXTRACT_MEMBERS) -> Path:
        """Extract every member under ``dest`` and return it.

        Every member is checked first: one whose path would land outside ``dest`` (absolute,
        a drive letter, ``..``, a backslash), a symbolic link or another special file, or
        members declaring more than ``max_bytes`` in all (1 GiB by default) or more than
        ``max_members`` of them, is an `ArchiveError` before anything is written; a member
        that turns out larger than it declared is one too. Members are extracted into a
        temporary folder inside ``dest`` and moved into place only when all of them were read
        whole, so a refused or damaged archive leaves ``dest`` as it was.

        Example::

            archive.extract("out/export/", max_bytes=20 << 30)   # a 20 GiB export, trusted
        """
        root = Path(dest)
        infos = self._zip.infolist()
        declared = sum(info.file_size for info in infos)
        if len(infos) > max_members or declared > max_bytes:
            raise ArchiveError(
                f"refusing to extract {self.path.name}: its {len(infos)} members declare "
                f"{_size(declared)}, above the limits ({max_members} members, "
                f"{_size(max_bytes)}: max_members=, max_bytes=); nothing was written")
        root.mkdir(parents=True, exist_ok=True)
        resolved = root.resolve()
        for info in infos:
            reason = _unsafe(info)
            # Resolving also follows symlinks already inside dest that a member would go through.
            if reason is None and not (resolved / info.filename).resolve().is_relative_to(
                    resolved):
                reason = "it would be written outside the destination"
            if reason is not None:
                raise ArchiveError(f"refusing to extract {self.path.name}: member "
                                   f"{info.filename!r}: {reason}; nothing was written",
                                   member=info.filename)
        _check_layout(self.path.name, infos)
        staging = root / f".extract-{secrets.token_hex(4)}.part"
        try:
            staging.mkdir()
            for info in infos:
                target = staging / info.filename
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    # zipfile reads no further than the declared size, and the CRC of what
                    # it read then fails: a member larger than it declares is "damaged".
                    with self._zip.open(info) as source, target.open("xb") as out:
                        shutil.copyfileobj(source, out, 1 << 20)
                except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                    raise ArchiveError(f"{info.filename} is damaged (truncated or corrupt?): "
                                       f"{exc}; nothing was extracted",
                                       member=info.filename) from exc
            _move_tree(staging, root)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return root

    # -- the flat table -------------------------------------------------------------------

    @property
    def columns(self) -> tuple[str, ...]:
        """The keys of every `rows` dict, in order."""
        return (f"{self.kind}_id", *ROW_COLUMNS)

    def rows(self, *, sep: str = "|") -> Iterator[dict[str, Any]]:
        """One plain dict per (submission, task, instruction), for analysis.

        ``value`` is the text answer, or the options chosen joined with ``sep``; ``unit`` and
        ``explanation`` (joined likewise) are set for the types that have them; ``files`` is
        the archive paths of uploaded files joined with ``sep``; an answer of unknown shape has
        its JSON in ``value``. ``instruction_description`` falls back to ``batch.json``.
        """
        instructions = self.info.instructions if self._info_member() else {}
        owner_column = f"{self.kind}_id"
        for record in self.submissions():
            owner = record.batch_id if self.kind == "batch" else (
                record.collection_id or record.batch_id)
            for task_id, answers in record.responses.items():
                for instruction_id, value in answers.items():
                    known = instructions.get(instruction_id)
                    row = {
                        owner_column: owner, "submission_id": record.submission_id,
                        "participant_id": record.participant_id,
                        "created_at": record.created_at, "task_id": task_id or None,
                        "instruction_id": instruction_id, "instruction_type": value.type.value,
                        "instruction_description": value.description
                        or (known.description if known else None),
                        "value": None, "unit": None, "explanation": None, "files": None,
                    }
                    _fill(row, value, sep)
                    yield row

    def to_pandas(self, *, sep: str = "|") -> Any:
        """`rows` as a ``pandas.DataFrame`` (needs the ``pandas`` extra:
        ``pip install 'prolific-async[pandas]'``). Write it on with pandas::

            archive.to_pandas().to_parquet("answers.parquet")
        """
        try:
            pandas = importlib.import_module("pandas")
        except ImportError as exc:
            raise ImportError("ExportArchive.to_pandas needs pandas: "
                              "pip install 'prolific-async[pandas]'") from exc
        return pandas.DataFrame.from_records(self.rows(sep=sep), columns=list(self.columns))

    def to_csv(self, dest: str | os.PathLike[str], *, sep: str = "|") -> Path:
        """Write `rows` to a CSV file with the `csv` module, one row at a time (constant
        memory, unlike a DataFrame), and return its path."""
        path = Path(dest)
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.DictWriter(out, fieldnames=self.columns)
            writer.writeheader()
            writer.writerows(self.rows(sep=sep))
        return path

    def _info_member(self) -> bool:
        return (BATCH_INFO if self.kind == "batch" else COLLECTION_INFO) in self._names


# -- bounded reading ------------------------------------------------------------------------


def _size(count: int) -> str:
    return f"{count / MiB:,.0f} MiB" if count >= MiB else f"{count:,} bytes"


def _loads(data: bytes) -> Any:
    """JSON from UTF-8 bytes; nesting too deep for the parser is a ValueError like bad JSON."""
    try:
        # Decoding first is faster than json.loads(bytes), which sniffs the encoding.
        return json.loads(data.decode("utf-8"))
    except RecursionError:
        raise ValueError("nested too deeply to parse") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8: {exc}") from None


def _reason(exc: BaseException) -> str:
    return "nested too deeply to read" if isinstance(exc, RecursionError) else str(exc)


#: Lines are read in pieces of at most this size, so a long one is never held twice over
#: (and this is all the read buffer holds: records stream in constant memory).
_PIECE = 1 << 16


def _bounded_lines(raw: IO[bytes], limit: int) -> Iterator[bytes | None]:
    """The lines of ``raw`` (binary, newline kept), or None for one longer than ``limit``
    bytes, after which reading stops: at most ``limit`` bytes of a line are ever held (a text
    reader would hold a 1 GiB line whole, and ``readline(limit)`` a copy besides)."""
    readline = raw.readline
    while first := readline(_PIECE):
        if first[-1:] == b"\n" and len(first) <= limit + 1:
            yield first  # the common case: a whole line in one piece
            continue
        pieces, size = [first], len(first)
        while size <= limit and pieces[-1][-1:] != b"\n":
            piece = readline(_PIECE)
            if not piece:
                break
            pieces.append(piece)
            size += len(piece)
        if size - (pieces[-1][-1:] == b"\n") > limit:
            yield None
            return
        yield b"".join(pieces)


def _first_repeated(names: list[str]) -> str:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    raise AssertionError("no repeated name")  # only called when there is one


def _drain(stream: IO[bytes]) -> None:
    while stream.read(1 << 20):
        pass


# -- member safety --------------------------------------------------------------------------


def _unsafe(info: zipfile.ZipInfo) -> str | None:
    """Why extracting this member could write somewhere it should not, or None."""
    name = info.filename
    # Unix mode bits ride in the high half of external_attr; the file type may be left out (0),
    # as Python's own writestr does.
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind == stat.S_IFLNK:
        return "it is a symbolic link"
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        return "it is not a regular file or folder"
    if not name or "\x00" in name:
        return "its name is empty or holds a NUL byte"
    if "\\" in name:
        return "its path holds a backslash (a separator on Windows)"
    if name.startswith("/"):
        return "its path is absolute"
    if len(name) >= 2 and name[1] == ":" and name[0].isalpha():
        return "its path starts with a drive letter"
    if ".." in PurePosixPath(name).parts:
        return "its path climbs out with '..'"
    return None


def _check_layout(archive: str, infos: list[zipfile.ZipInfo]) -> None:
    """Refuse two members for one path, or a file where another member needs a folder."""
    files: set[PurePosixPath] = set()
    folders: set[PurePosixPath] = set()
    for info in infos:
        path = PurePosixPath(info.filename)
        folders.update(path.parents)
        if info.is_dir():
            folders.add(path)
        elif path in files:
            raise ArchiveError(f"refusing to extract {archive}: member {info.filename!r} "
                               "appears twice; nothing was written", member=info.filename)
        else:
            files.add(path)
    clash = sorted(files & folders)
    if clash:
        raise ArchiveError(f"refusing to extract {archive}: {str(clash[0])!r} is both a file "
                           "and a folder; nothing was written", member=str(clash[0]))


def _move_tree(source: Path, dest: Path) -> None:
    """Move every file under ``source`` to the same place under ``dest`` (same filesystem, so
    each is a rename): first check nothing is in the way, then move."""
    files = [path for path in source.rglob("*") if not path.is_dir()]
    for path in files:
        target = dest / path.relative_to(source)
        if target.is_dir():
            raise ArchiveError(f"cannot extract {path.relative_to(source)}: a folder of that "
                               f"name is already in {dest}; nothing was extracted")
        for parent in target.relative_to(dest).parents:
            if (dest / parent).exists() and not (dest / parent).is_dir():
                raise ArchiveError(f"cannot extract {path.relative_to(source)}: "
                                   f"{dest / parent} is a file; nothing was extracted")
    for folder in sorted(p for p in source.rglob("*") if p.is_dir()):
        (dest / folder.relative_to(source)).mkdir(parents=True, exist_ok=True)
    for path in files:
        path.replace(dest / path.relative_to(source))


def _fill(row: dict[str, Any], value: ResponseValue, sep: str) -> None:
    if isinstance(value, (FreeTextValue, FreeTextWithUnitValue)):
        row["value"] = value.value
        if isinstance(value, FreeTextWithUnitValue):
            row["unit"] = value.unit
    elif isinstance(value, MultipleChoiceValue):
        row["value"] = sep.join(value.values)
    elif isinstance(value, MultipleChoiceWithFreeTextValue):
        row["value"] = sep.join(pick.option for pick in value.values)
        row["explanation"] = sep.join(pick.explanation for pick in value.values)
    elif isinstance(value, FileUploadValue):
        row["files"] = sep.join(f.path or f.name for f in value.files)
    else:
        row["value"] = json.dumps(value.data, sort_keys=True)
