"""Shapes shared by several areas of the API."""

from __future__ import annotations

import enum
from typing import Any

import attrs

__all__ = ["OpenEnum", "StatusSnapshot", "TaskDetails"]


class OpenEnum(str, enum.Enum):
    """A string enum that keeps values it does not know instead of failing.

    The API adds statuses and renames values often (REFERENCE §0.8), so parsing
    ``{"status": "ARCHIVED"}`` must not crash: it gives a pseudo-member whose ``value`` is
    ``"ARCHIVED"`` and whose ``known`` is False. Members compare equal to their strings.
    """

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if not isinstance(value, str):
            return None
        member = str.__new__(cls, value)
        member._name_ = value
        member._value_ = value
        return member

    @property
    def known(self) -> bool:
        return self._name_ in type(self).__members__

    def __str__(self) -> str:
        return str(self.value)


@attrs.frozen(kw_only=True)
class TaskDetails:
    """What participants see before the tasks; ``task_introduction`` and ``task_steps`` are HTML."""

    task_name: str
    task_introduction: str
    task_steps: str


@attrs.frozen
class StatusSnapshot:
    """The body of a ``…/status`` endpoint: ``{"status": "PROCESSING"}``."""

    status: str
