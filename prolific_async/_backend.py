"""The SDK's one runtime requirement on the event loop: asyncio.

aiohttp runs on asyncio only. Under another async library (trio, via ``anyio.run(...,
backend="trio")``) it fails deep inside with "no running event loop"; this says why, first.
"""

from __future__ import annotations

import asyncio

from ._errors import ConfigurationError

__all__ = ["loop_time", "require_asyncio"]


def _running_library() -> str | None:
    """The async library running in this thread, when sniffio (a dependency of trio) can
    tell: ``"asyncio"``, ``"trio"``, or None when none runs or sniffio is absent."""
    try:
        import sniffio
    except ImportError:
        return None
    try:
        return sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        return None


def require_asyncio(*, inside_async: bool) -> None:
    """Raise `ConfigurationError` unless this runs on asyncio.

    ``inside_async`` says the caller is a coroutine (so some event loop runs); a synchronous
    caller (``Prolific()``) may be outside any loop, which is fine until the client is opened.
    """
    library = _running_library()
    if library is not None and library != "asyncio":
        raise ConfigurationError(
            f"prolific_async runs on asyncio (aiohttp), not on {library}: run it with "
            "asyncio.run(main()) or anyio.run(main, backend=\"asyncio\")")
    if inside_async:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            raise ConfigurationError(
                "prolific_async runs on asyncio (aiohttp), and no asyncio event loop is "
                "running here: run it with asyncio.run(main()) or "
                "anyio.run(main, backend=\"asyncio\")") from None


def loop_time() -> float:
    """The running event loop's clock: what ``anyio.current_time()`` reads on asyncio, without
    its look-up of the async library on each call (a run reads it ~90 times a plan)."""
    return asyncio.get_running_loop().time()
