"""`Secret`: the API token, masked wherever a string of it could be shown."""

from __future__ import annotations

from typing import Any, NoReturn

__all__ = ["Secret"]


class Secret:
    """A string that is never shown: ``str``, ``repr`` and f-strings print ``***``.

    Only `reveal` gives the value, and only the transport calls it, at send time, to build
    the ``Authorization`` header. It has no ``__dict__`` (``vars()`` shows nothing) and refuses
    to be pickled or copied into a plain string by accident.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __format__(self, spec: str) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled: it would write the token out in clear")

    def __getstate__(self) -> Any:
        self.__reduce__()
