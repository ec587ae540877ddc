"""No partial file is ever left behind: a cancelled download removes its own, and the next
download of the same export removes those of a killed process, never a live one's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import anyio
import pytest

import prolific_async as pa
from prolific_async._leftovers import abandoned, hold
from prolific_async.testing import FakeProlific

from . import test_download
from .test_download import MiB, export_ready

# The 6 MiB export's fake and client (1 MiB writes: several steps to cancel between).
big_fake = test_download.big_fake
big_client = test_download.big_client

pytestmark = pytest.mark.anyio


def parts(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.part"))


@pytest.mark.parametrize("after_mib", [1, 2, 3, 4, 5])
async def test_a_download_cancelled_midway_leaves_no_partial_file(
    big_client: pa.Prolific, big_fake: FakeProlific, tmp_path: Path, after_mib: int,
) -> None:
    batch_id = await export_ready(big_client, big_fake)
    folder = tmp_path / "out"
    folder.mkdir()
    with anyio.CancelScope() as scope:
        def progress(done: int, total: int | None) -> None:
            if done >= after_mib * MiB:
                scope.cancel()

        await big_client.batches.export(batch_id, folder, progress=progress)
    assert scope.cancelled_caught
    assert list(folder.iterdir()) == []


def killed_holder(path: Path) -> None:
    """A process that holds ``path`` as a download does, killed outright (SIGKILL)."""
    code = ("import sys, time; from pathlib import Path; "
            "from prolific_async._leftovers import hold; "
            "h = hold(Path(sys.argv[1])); h.write(b'x' * 1000); h.flush(); "
            "print('held', flush=True); time.sleep(60)")
    child = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None and child.stdout.readline() == b"held\n"
        assert not abandoned(path)  # alive: held
    finally:
        child.kill()
        child.wait(timeout=30)
        if child.stdout is not None:
            child.stdout.close()


async def test_the_next_download_removes_a_killed_downloads_partial_file_only(
    big_client: pa.Prolific, big_fake: FakeProlific, tmp_path: Path,
) -> None:
    batch_id = await export_ready(big_client, big_fake)
    dead = tmp_path / f".{batch_id}-export-20260101-000000.zip.0badf00d.part"
    live = tmp_path / f".{batch_id}-export-20260101-000001.zip.0000beef.part"
    other = tmp_path / ".another-batch-export-20260101-000000.zip.12345678.part"
    mine = tmp_path / "notes.part"
    killed_holder(dead)
    held = hold(live)  # a download of the same export still running
    try:
        other.write_bytes(b"not this export's")
        mine.write_text("a user's file")
        path = await big_client.batches.export(batch_id, tmp_path)
        assert sorted(tmp_path.iterdir()) == sorted([path, live, other, mine])
    finally:
        held.close()
    assert abandoned(live)  # once its process lets go, the next download would remove it


async def test_a_leftover_let_go_later_is_removed_by_a_later_download_of_this_process(
    big_client: pa.Prolific, big_fake: FakeProlific, tmp_path: Path,
) -> None:
    # A folder's partial files are listed once per process: one held at that time (its
    # download still running elsewhere) must still be removed once its process lets it go.
    batch_id = await export_ready(big_client, big_fake)
    live = tmp_path / f".{batch_id}-export-20260101-000001.zip.0000beef.part"
    held = hold(live)
    try:
        first = await big_client.batches.export(batch_id, tmp_path)
        assert parts(tmp_path) == [live]
    finally:
        held.close()
    second = await big_client.batches.export(batch_id, tmp_path)
    assert parts(tmp_path) == []
    assert second.stat().st_size > 6 * MiB and first.parent == second.parent


def test_a_leftover_is_abandoned_only_once_its_holder_is_gone(tmp_path: Path) -> None:
    path = tmp_path / ".x.part"
    handle = hold(path)
    assert not abandoned(path)
    handle.close()
    assert abandoned(path)
    assert not abandoned(tmp_path / "missing.part")
