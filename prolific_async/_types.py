"""Small shared sentinels."""

from __future__ import annotations

from typing import Any

__all__ = ["UNSET"]


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"

    def __reduce__(self) -> str:
        return "UNSET"


#: "Leave this field alone" in update methods, where ``None`` means "clear it".
UNSET: Any = _Unset()
