"""Journal files that cannot be a journal: refused with the path and the reason, never changed."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

import prolific_async as pa
from prolific_async.orchestration._journal import Journal

pytestmark = pytest.mark.anyio


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sqlite_file(path: Path, *statements: str) -> Path:
    with closing(sqlite3.connect(path)) as db:
        for statement in statements:
            db.execute(statement)
        db.commit()
    return path


async def refused(path: Path) -> str:
    with pytest.raises(pa.ConfigurationError) as caught:
        await Journal.open(path)
    message = str(caught.value)
    assert repr(str(path)) in message
    return message


async def test_a_missing_folder_is_named(tmp_path: Path) -> None:
    message = await refused(tmp_path / "nowhere" / "run.db")
    assert f"its folder {str(tmp_path / 'nowhere')!r} does not exist" in message
    assert not (tmp_path / "nowhere").exists()


async def test_a_directory_is_refused(tmp_path: Path) -> None:
    assert (await refused(tmp_path)).endswith("it is a directory")


async def test_a_read_only_place_is_refused_with_the_systems_reason(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        # Root writes through permission bits; sysfs refuses a new file to everyone.
        folder = Path("/sys")
        if not folder.is_dir():
            pytest.skip("no read-only folder for root on this machine (/sys is absent)")
    else:
        folder = tmp_path / "locked"
        folder.mkdir()
        folder.chmod(0o500)
    message = await refused(folder / "run.db")
    assert message.endswith(("Permission denied", "Read-only file system"))
    assert not (folder / "run.db").exists()


async def test_another_applications_database_is_left_byte_for_byte_untouched(
        tmp_path: Path) -> None:
    theirs = sqlite_file(tmp_path / "app.db",
                         "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)",
                         "INSERT INTO users (name) VALUES ('ada')")
    before = digest(theirs)
    message = await refused(theirs)
    assert "is not a prolific_async journal (a SQLite database of another application: " \
           "tables users)" in message
    assert digest(theirs) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.db"]


async def test_a_database_with_the_journals_table_names_but_no_marker_is_refused(
        tmp_path: Path) -> None:
    # Same tables, but no version row: not something this SDK wrote.
    theirs = sqlite_file(tmp_path / "lookalike.db",
                         "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
                         "CREATE TABLE plans (name TEXT)", "CREATE TABLE ids (plan TEXT)",
                         "CREATE TABLE stages (plan TEXT)")
    before = digest(theirs)
    await refused(theirs)
    assert digest(theirs) == before


async def test_a_database_stamped_by_another_application_is_refused(tmp_path: Path) -> None:
    theirs = sqlite_file(tmp_path / "empty-but-theirs.db", "PRAGMA application_id=42")
    before = digest(theirs)
    assert "another application" in await refused(theirs)
    assert digest(theirs) == before


async def test_a_file_that_is_not_sqlite_is_left_untouched(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("these are not the droids\n" * 100)
    before = digest(notes)
    assert "is not a prolific_async journal" in await refused(notes)
    assert digest(notes) == before


async def test_a_journal_is_marked_and_opens_again(tmp_path: Path) -> None:
    path = tmp_path / "run.db"
    journal = await Journal.open(path)
    await journal.enter("p", {"dataset": "x"})
    await journal.aclose()
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA application_id").fetchone()[0] == 0x50524C46
    journal = await Journal.open(path)
    assert await journal.enter("p", {"dataset": "x"}) == pa.orchestration._journal.PlanRecord()
    await journal.aclose()


async def test_a_journal_written_before_the_marker_still_opens(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    journal = await Journal.open(path)
    await journal.enter("p", {})
    await journal.set_id("p", "batch_id", "b1")
    await journal.aclose()
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA application_id=0")
        db.commit()
    journal = await Journal.open(path)
    assert (await journal.enter("p", {})).ids == {"batch_id": "b1"}
    await journal.aclose()
