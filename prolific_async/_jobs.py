"""Kinds of asynchronous job and what their statuses mean: pure data, no I/O.

Each resource declares the kinds it watches (``DATASET``, ``BATCH_EXPORT`` ...) from its own
status enums, so a status string is written once, in its enum. Declaring a `JobKind` registers
it in `KINDS`, which `categorize` reads.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

import attrs

__all__ = ["Category"]  # the public part; the rest is the resources'


class Category(enum.Enum):
    """Where a status leaves a job: still going, finished, failed, or a value we do not know."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    UNKNOWN = "unknown"


def _strings(values: Iterable[str]) -> frozenset[str]:
    return frozenset(str(value) for value in values)


@attrs.frozen
class JobKind:
    """One kind of asynchronous job and what its statuses mean.

    ``not_started`` statuses, seen on the first poll of a new watch, mean the job was never
    started (``missing_step`` names the call that starts it): waiting cannot help.
    """

    name: str
    pending: frozenset[str] = attrs.field(converter=_strings)
    done: frozenset[str] = attrs.field(converter=_strings)
    failed: frozenset[str] = attrs.field(converter=_strings)
    #: What to tell a caller whose job failed.
    remedy: str = ""
    not_started: frozenset[str] = attrs.field(default=frozenset(), converter=_strings)
    missing_step: str = ""

    def __attrs_post_init__(self) -> None:
        KINDS[self.name] = self

    def categorize(self, status: str) -> Category:
        if status in self.pending:
            return Category.PENDING
        if status in self.done:
            return Category.DONE
        if status in self.failed:
            return Category.FAILED
        return Category.UNKNOWN


#: Every declared kind, by name.
KINDS: dict[str, JobKind] = {}


def categorize(kind: str, status: str) -> Category:
    """The category of ``status`` for the job kind named ``kind``."""
    return KINDS[kind].categorize(status)
