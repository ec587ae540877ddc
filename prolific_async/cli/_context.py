"""What every command shares: the `App` built from the global options, and option helpers."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import click

import prolific_async as pa

from ._errors import CONFIG, CommandError
from ._output import Output
from ._tracing import request_spans

__all__ = ["App", "json_option", "pass_app", "run_async", "workspace_option"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


class App:
    """The global options, and how a command reaches the API with them."""

    def __init__(self, *, base_url: str | None, debug: bool, as_json: bool,
                 retries: int | None, workspace_id: str | None = None) -> None:
        self.base_url = base_url
        #: ``prolific-async --workspace`` (or PROLIFIC_WORKSPACE): a subcommand's default.
        self.workspace_id = workspace_id
        self.debug = debug
        self.retries = retries
        self.output = Output(as_json=as_json)
        if debug:
            _log_to_stderr()

    def client(self) -> pa.Prolific:
        """A client for the API named by the options; the token comes from PROLIFIC_TOKEN."""
        if not os.environ.get("PROLIFIC_TOKEN", "").strip():
            raise CommandError(
                "no API token: set PROLIFIC_TOKEN to a Prolific API token "
                "(or run `prolific-async fake-server` and eval the lines it prints)", CONFIG)
        retry = None if self.retries is None else pa.RetryPolicy(attempts=self.retries + 1)
        return pa.Prolific(base_url=self.base_url, retry=retry, on_response=request_spans())

    def run(self, work: Callable[[pa.Prolific], Awaitable[T]]) -> T:
        """Open a client, await ``work(client)`` on an event loop, close the client."""

        async def main() -> T:
            async with self.client() as client:
                return await work(client)

        return run_async(main)

    def follow(self, start: Callable[[pa.Prolific], pa.Watch[Any]]) -> None:
        """Print each transition of the watch ``start(client)`` returns, as it happens."""

        async def work(client: pa.Prolific) -> None:
            async with start(client) as watch:
                async for change in watch:
                    self.output.transition(change)

        self.run(work)


def _log_to_stderr() -> None:
    logger = logging.getLogger("prolific_async")
    logger.setLevel(logging.DEBUG)
    for old in [h for h in logger.handlers if getattr(h, "prolific_cli", False)]:
        logger.removeHandler(old)
    handler = logging.StreamHandler()  # stderr; the SDK never logs the token
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    handler.prolific_cli = True  # type: ignore[attr-defined]
    logger.addHandler(handler)


def run_async(main: Callable[[], Awaitable[T]]) -> T:
    """``anyio.run(main)``, where Ctrl-C is always a `KeyboardInterrupt`."""
    try:
        return anyio.run(main)
    except asyncio.CancelledError:
        # On Python 3.10 the runner cancels the main task on Ctrl-C and lets the
        # CancelledError out; nothing else cancels the main task from outside.
        raise KeyboardInterrupt from None


pass_app = click.make_pass_decorator(App)


def _set_json(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    if value:
        ctx.find_object(App).output.as_json = True  # type: ignore[union-attr]


def json_option(command: F) -> F:
    """``--json`` on a command (the same as the global ``prolific-async --json``)."""
    return click.option("--json", is_flag=True, expose_value=False, callback=_set_json,
                        help="Print JSON (JSON lines for streams) instead of tables.")(command)


def _workspace(ctx: click.Context, _: click.Parameter, value: str | None) -> str:
    # The subcommand's own --workspace, else the root's (which reads PROLIFIC_WORKSPACE).
    app = ctx.find_object(App)
    chosen = value or (app.workspace_id if app is not None else None)
    if not chosen:
        raise click.UsageError("no workspace: pass --workspace (before or after the command) "
                               "or set PROLIFIC_WORKSPACE", ctx)
    return chosen


workspace_option = click.option(
    "--workspace", "-w", "workspace_id", callback=_workspace, metavar="ID",
    help="Workspace id [default: prolific-async --workspace, or PROLIFIC_WORKSPACE].")
