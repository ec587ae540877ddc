"""Telling our own leftovers from live work: files a process holds, and what a dead one left.

A download's hidden ``.part`` file and a run's scratch folder are held, while their process
lives, by an exclusive ``flock`` on an open file. A process killed outright (SIGKILL, power
loss) cannot clean up, but the kernel drops its locks: a later run that can take the lock knows
the owner is gone and removes the leftover. Where ``fcntl`` does not exist (Windows) a leftover
counts as abandoned once it has not changed for `ABANDONED_AFTER` seconds.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import IO

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["ABANDONED_AFTER", "abandoned", "hold"]

#: Without locks: how long an unchanged leftover is taken to be live work.
ABANDONED_AFTER = 24 * 3600.0


def hold(path: Path) -> IO[bytes]:
    """Create ``path`` (it must not exist) and hold it until the returned file is closed.

    Blocking (run it in a worker thread from async code).
    """
    handle = path.open("xb")
    if fcntl is not None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    return handle


def abandoned(path: Path) -> bool:
    """Whether no living process holds ``path`` (see the module docstring). Blocking."""
    if fcntl is None:  # pragma: no cover - Windows
        try:
            return time.time() - path.stat().st_mtime > ABANDONED_AFTER
        except OSError:
            return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False  # gone already, or not ours to open
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # held: its process is alive
    finally:
        os.close(fd)  # closing drops the lock we may have taken
    return True
