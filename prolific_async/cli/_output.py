"""Rendering: data to stdout (tables for people, JSON for scripts), progress to stderr.

Colour only reaches a terminal, and never when ``NO_COLOR`` is set (rich honours it).
"""

from __future__ import annotations

import enum
import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import PurePath
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

import prolific_async as pa

__all__ = ["Output", "jsonable"]

#: The widest a table's first column is kept whole (longer names wrap).
KEY_COLUMN_MAX = 40


def jsonable(value: Any) -> Any:
    """A model (or list of models, an event, a result) as plain JSON data: the SDK's own
    `prolific_async.to_json`, then paths as strings and errors as one line."""
    return _plain(pa.to_json(value))


def _plain(value: Any) -> Any:
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, Mapping):
        return {str(_plain(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _console(stream: TextIO) -> Console:
    # highlight=False: rich would otherwise colour numbers and ids inside plain lines.
    # NO_COLOR asks for plain text: no colour, and no bold either.
    plain = bool(os.environ.get("NO_COLOR"))
    console = Console(file=stream, highlight=False, color_system=None if plain else "auto")
    if not console.is_terminal and "COLUMNS" not in os.environ:
        # Piped tables are read by people later: do not squeeze 36-character ids into 80.
        console.width = 160
    return console


class Output:
    """Where a command writes: ``out`` for data (stdout), ``err`` for progress and errors."""

    def __init__(self, *, as_json: bool, stdout: TextIO | None = None,
                 stderr: TextIO | None = None) -> None:
        self.as_json = as_json
        self.out = _console(stdout or sys.stdout)
        self.err = _console(stderr or sys.stderr)

    # -- data -------------------------------------------------------------------------------

    def json(self, value: Any) -> None:
        """One JSON document (or one line of a JSON-lines stream) on stdout."""
        self.out.file.write(json.dumps(jsonable(value), ensure_ascii=False) + "\n")
        self.out.file.flush()

    def line(self, text: str) -> None:
        """A plain line of data on stdout (an id, a path, a status)."""
        self.out.file.write(text + "\n")
        self.out.file.flush()

    def table(self, columns: Sequence[str], rows: Iterable[Sequence[Any]], *,
              empty: str = "nothing to show", title: str | None = None) -> None:
        """Rows under a header on stdout; with no rows, only ``empty`` on stderr.

        The first column names the row (an id, a plan): it is never cut short with an
        ellipsis, which at 80 columns made every plan ``reviews…``; the other columns give
        way, and a name too long even for that wraps.
        """
        cells = [["" if cell is None else str(cell) for cell in row] for row in rows]
        table = Table(*columns, title=title, title_justify="left", box=None, pad_edge=False)
        if cells:
            key = table.columns[0]
            key.min_width = min(max(len(row[0]) for row in cells), KEY_COLUMN_MAX)
            key.overflow = "fold"
        for row in cells:
            table.add_row(*row)
        if table.row_count:
            self.out.print(table)
        else:
            self.note(empty)

    def record(self, value: Any, fields: Sequence[str]) -> None:
        """One model: as JSON, or as ``field  value`` lines for the fields that are set."""
        if self.as_json:
            self.json(value)
            return
        data = jsonable(value)
        rows = [(name, _cell(data[name])) for name in fields if data.get(name) is not None]
        self.table(("field", "value"), rows)

    def transition(self, change: pa.Transition[Any]) -> None:
        """A watched job's status change, as it happens."""
        if self.as_json:
            self.json({"kind": change.kind, "id": change.resource_id,
                       "previous": change.previous, "current": change.current,
                       "at": change.at, "elapsed": round(change.elapsed, 3)})
        else:
            self.line(f"{change.at:%H:%M:%S} {change.kind} {change.resource_id}: "
                      f"{change.previous or '-'} -> {change.current} "
                      f"({change.elapsed:.1f}s)")

    # -- progress ---------------------------------------------------------------------------

    def note(self, text: str) -> None:
        """A progress message for people, on stderr."""
        self.err.print(Text(text), soft_wrap=True)

    def error(self, text: str) -> None:
        """The one line a failure prints."""
        self.err.print(Text.assemble(("error:", "bold red"), " ", text), soft_wrap=True)


def _cell(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
