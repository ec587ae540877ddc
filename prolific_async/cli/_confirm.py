"""Asking before money moves: on a terminal a yes/no question, elsewhere ``--yes`` or refuse."""

from __future__ import annotations

import sys

import click

from ._errors import USAGE, CommandError

__all__ = ["check_can_confirm", "confirm"]


def check_can_confirm(yes: bool, what: str) -> None:
    """Refuse, before anything is sent, when no one can be asked and ``--yes`` is missing."""
    if not yes and not _interactive():
        raise CommandError(f"{what} spends money: pass --yes to confirm", USAGE)


def _interactive() -> bool:
    return sys.stdin.isatty()


def confirm(yes: bool, question: str) -> None:
    """Ask ``question`` unless ``--yes`` was given; a no ends the command (exit 1)."""
    if not yes:
        click.confirm(question, abort=True, err=True)
