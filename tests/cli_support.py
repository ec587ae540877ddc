"""Shared by the tests of the ``prolific-async`` command: a fake Prolific served from a
background thread (so the command, which runs its own event loop, can call it in-process or
from a subprocess), and helpers to run the command and read what it printed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import attrs
from anyio.from_thread import BlockingPortal, start_blocking_portal
from click.testing import CliRunner, Result

import prolific_async as pa
from prolific_async.cli._app import cli
from prolific_async.testing import FakeClock, FakeProlific

T = TypeVar("T")


@attrs.define
class Served:
    """A fake on its own event loop in a thread; ``call`` runs SDK code against it there."""

    fake: FakeProlific
    portal: BlockingPortal

    @property
    def env(self) -> dict[str, str]:
        return {"PROLIFIC_URL": self.fake.url, "PROLIFIC_TOKEN": self.fake.token,
                "PROLIFIC_WORKSPACE": self.fake.workspace_id, "NO_COLOR": "1"}

    def call(self, work: Callable[[pa.Prolific], Awaitable[T]]) -> T:
        async def run() -> T:
            async with pa.Prolific(self.fake.token, base_url=self.fake.url) as client:
                return await work(client)

        return self.portal.call(run)

    def advance(self, seconds: float) -> None:
        self.portal.call(lambda: self.fake.clock.advance(seconds))


@contextmanager
def served(**options: Any) -> Iterator[Served]:
    """A started fake (a clock that moves one second per API request, unless told) in a
    background thread."""
    options.setdefault("clock", FakeClock(speed=0, per_request=1.0))
    options.setdefault("seed", 7)
    with start_blocking_portal() as portal:
        with portal.wrap_async_context_manager(FakeProlific(**options)) as fake:
            yield Served(fake, portal)


def invoke(served: Served | None, *args: str, env: dict[str, str | None] | None = None) -> Result:
    """Run ``prolific-async ARGS`` in-process; stdout and stderr come back separately."""
    full_env = {**(served.env if served else {}), **(env or {})}
    return CliRunner().invoke(cli, list(args), env=full_env, catch_exceptions=False)


def command(*args: str) -> list[str]:
    """The argv that runs ``prolific-async ARGS`` in a subprocess of this interpreter."""
    return [sys.executable, "-m", "prolific_async.cli", *args]


def subprocess_env(served: Served | None = None, **extra: str) -> dict[str, str]:
    # COLUMNS/LINES from the runner (pytest-xdist sets COLUMNS=80) would change the command's
    # table layout; a test that wants a width passes it.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PROLIFIC_") and k not in ("COLUMNS", "LINES")}
    env.update(served.env if served else {}, **extra)
    return env


def run(*args: str, served: Served | None = None, timeout: float = 60,
        **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``prolific-async ARGS`` in a subprocess and wait for it."""
    return subprocess.run(command(*args), env=subprocess_env(served, **env), text=True,
                          capture_output=True, timeout=timeout, check=False)


def one_error_line(result: Result | subprocess.CompletedProcess[str]) -> str:
    """The single ``error: …`` line a failing command prints (asserting there is only it)."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in result.stderr
    return lines[0]
