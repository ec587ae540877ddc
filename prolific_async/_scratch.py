"""A run's scratch folder (the rows of plans written out as files to upload), and the removal
of those a killed run left behind.

Each folder is ``prolific-run-*`` in the temporary directory and holds a marker file that its
run holds (locks) while it lives (`prolific_async._leftovers`). A run opening its folder first
removes every ``prolific-run-*`` folder whose marker no living process holds: only folders
with the marker (never a user's files), and never a folder another run is still using.

Example::

    async with await Scratch.open() as scratch:
        rows_file = scratch.path / "plan-1.csv"
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO

import anyio

from ._leftovers import abandoned, hold

__all__ = ["MARKER", "PREFIX", "Scratch", "remove_abandoned_scratch"]

PREFIX = "prolific-run-"
#: The file that makes a folder a run's scratch folder (and that the run holds).
MARKER = ".prolific-run-scratch"


def remove_abandoned_scratch(base: Path) -> list[Path]:
    """Remove the scratch folders under ``base`` whose run is gone; return them. Blocking."""
    removed = []
    for folder in base.glob(f"{PREFIX}*"):
        marker = folder / MARKER
        if folder.is_dir() and not folder.is_symlink() and marker.is_file() \
                and abandoned(marker):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


class Scratch:
    """A run's scratch folder, held until `aclose` (or the end of ``async with``) removes it.

    Example::

        scratch = await Scratch.open()
        try:
            ...  # write files under scratch.path
        finally:
            await scratch.aclose()
    """

    def __init__(self, path: Path, holder: IO[bytes]) -> None:
        self.path = path
        self._holder = holder

    @classmethod
    async def open(cls, parent: str | Path | None = None) -> Scratch:
        """Remove abandoned scratch folders under ``parent`` (the temporary directory by
        default), then make and hold a new one."""
        base = Path(parent) if parent is not None else Path(tempfile.gettempdir())
        await anyio.to_thread.run_sync(remove_abandoned_scratch, base)
        path = Path(await anyio.to_thread.run_sync(tempfile.mkdtemp, "", PREFIX, str(base)))
        try:
            holder = await anyio.to_thread.run_sync(hold, path / MARKER)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(shutil.rmtree, path, True)
            raise
        return cls(path, holder)

    async def aclose(self) -> None:
        """Let go of the folder and remove it (shielded: a cancelled run still cleans up)."""
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(self._holder.close)
            await anyio.to_thread.run_sync(shutil.rmtree, self.path, True)

    async def __aenter__(self) -> Scratch:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()
