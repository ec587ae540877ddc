"""A closed stdout (``prolific-async … | head -1``) ends the command quietly.

The reader went away on purpose: there is nobody to tell, and a traceback or an "error:" line
would be noise. The exit status is the shell's for a process killed by SIGPIPE (128 + 13), as
``yes | head -1`` reports it, so a script can still tell the output was cut short.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from typing import NoReturn

import click

__all__ = ["CLOSED_PIPE", "quiet_exit"]

CLOSED_PIPE = 128 + getattr(signal, "SIGPIPE", 13)


def quiet_exit(ctx: click.Context) -> NoReturn:
    """Exit with `CLOSED_PIPE`, after pointing stdout at the null device: the interpreter
    flushes stdout on its way out, which would raise (and print) BrokenPipeError again."""
    with contextlib.suppress(OSError, ValueError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    ctx.exit(CLOSED_PIPE)
