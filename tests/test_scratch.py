"""A run's scratch folder: removed when the run ends, and by the next run when the run was
killed; never a live run's folder, never a folder without the marker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from prolific_async._scratch import MARKER, Scratch

pytestmark = pytest.mark.anyio


def killed_run(base: Path) -> Path:
    """A process that opens a scratch folder, writes rows in it, and is killed (SIGKILL)."""
    code = ("import sys, time, anyio; from pathlib import Path; "
            "from prolific_async._scratch import Scratch\n"
            "async def main():\n"
            "    s = await Scratch.open(sys.argv[1]); (s.path / 'rows.csv').write_text('a,b')\n"
            "    print(s.path, flush=True); await anyio.sleep(60)\n"
            "anyio.run(main)")
    child = subprocess.Popen([sys.executable, "-c", code, str(base)], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        folder = Path(child.stdout.readline().decode().strip())
    finally:
        child.kill()
        child.wait(timeout=30)
        if child.stdout is not None:
            child.stdout.close()
    return folder


async def test_a_run_removes_its_scratch_folder_when_it_ends(tmp_path: Path) -> None:
    async with await Scratch.open(tmp_path) as scratch:
        (scratch.path / "rows.csv").write_text("a,b\n")
        assert (scratch.path / MARKER).is_file()
    assert list(tmp_path.iterdir()) == []


async def test_a_rerun_removes_a_killed_runs_scratch_but_no_live_or_foreign_folder(
        tmp_path: Path) -> None:
    dead = killed_run(tmp_path)
    assert (dead / "rows.csv").read_text() == "a,b"  # left behind by the kill
    foreign = tmp_path / "prolific-run-mine"  # the prefix, but no marker: not ours
    foreign.mkdir()
    async with await Scratch.open(tmp_path) as live:
        async with await Scratch.open(tmp_path) as rerun:
            assert not dead.exists()
            assert live.path.is_dir() and foreign.is_dir()
            assert sorted(tmp_path.iterdir()) == sorted([foreign, live.path, rerun.path])


async def test_orchestrate_removes_a_killed_runs_scratch_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    from prolific_async.testing import FakeClock, FakeProlific

    from .orchestration import client_for, plan
    from .test_orchestrate import run_all

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where runs make their folders
    dead = killed_run(tmp_path)
    clock = FakeClock(speed=0, per_request=0.25)
    async with FakeProlific(clock=clock) as fake, client_for(fake) as client:
        results, _ = await run_all(client, [plan("rows-plan", fake.workspace_id, publish=False)])
    assert results[0].error is None
    assert not dead.exists()
    assert list(tmp_path.iterdir()) == []  # and the run's own folder went when it ended
