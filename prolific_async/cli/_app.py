"""The root ``prolific-async`` group: global options, subcommands, and failure handling."""

from __future__ import annotations

import os
import traceback
from typing import Any

import click

import prolific_async as pa

from ._batch import batch
from ._bonus import bonus
from ._collection import collection
from ._context import App
from ._dataset import dataset
from ._demo import demo
from ._errors import EXIT_CODES, INTERRUPTED, describe
from ._fake_server import fake_server
from ._hooks import hooks
from ._instructions import instructions
from ._journal import journal
from ._output import Output
from ._pipe import quiet_exit
from ._run import run
from ._study import study
from ._submissions import submissions

__all__ = ["cli"]

class _Root(click.Group):
    """Turns any failure into one line on stderr and a documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except BaseException as exc:
            if isinstance(exc, (SystemExit, GeneratorExit)):
                raise
            app = ctx.find_object(App)
            output = app.output if app else Output(as_json=False)
            cause = _leaf(exc)
            if isinstance(cause, BrokenPipeError):
                quiet_exit(ctx)
            if isinstance(cause, KeyboardInterrupt):
                output.error("interrupted")
                ctx.exit(INTERRUPTED)
            if app is not None and app.debug:
                traceback.print_exception(type(exc), exc, exc.__traceback__)
            code, line = describe(cause, base_url=_base_url(app))
            output.error(line)
            ctx.exit(code)


def _leaf(exc: BaseException) -> BaseException:
    """The exception to report: an interrupt anywhere wins, else the first real error."""
    # Duck-typed: a task group raises the builtin BaseExceptionGroup on 3.11+, the
    # exceptiongroup backport's on 3.10.
    inner = getattr(exc, "exceptions", None)
    if not isinstance(inner, tuple) or not inner:
        return exc
    leaves = [_leaf(e) for e in inner]
    for leaf in leaves:
        if isinstance(leaf, KeyboardInterrupt):
            return leaf
    return leaves[0]


def _base_url(app: App | None) -> str:
    return (app.base_url if app and app.base_url else None) or os.environ.get(
        "PROLIFIC_URL") or pa.DEFAULT_BASE_URL


@click.group(cls=_Root, context_settings={"help_option_names": ["-h", "--help"]},
             epilog="\b\nExit codes:\n" + EXIT_CODES)
@click.option("--base-url", envvar="PROLIFIC_URL", metavar="URL",
              help=f"API base URL (or PROLIFIC_URL) [default: {pa.DEFAULT_BASE_URL}].")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON (JSON lines for streams) instead of tables.")
@click.option("--retries", type=click.IntRange(min=0), metavar="N",
              help="Retry a failed request up to N times [default: 4].")
@click.option("--workspace", "-w", "workspace_id", envvar="PROLIFIC_WORKSPACE", metavar="ID",
              help="Workspace id for every command that needs one (or PROLIFIC_WORKSPACE).")
@click.option("--debug", is_flag=True, help="Log requests and show tracebacks on stderr.")
@click.version_option(pa.__version__, "--version", prog_name="prolific-async")
@click.pass_context
def cli(ctx: click.Context, base_url: str | None, as_json: bool, retries: int | None,
        workspace_id: str | None, debug: bool) -> None:
    """Drive Prolific AI Task Builder batches from a shell.

    The token comes from PROLIFIC_TOKEN. `prolific-async demo` runs the whole job offline.
    """
    ctx.obj = App(base_url=base_url, debug=debug, as_json=as_json, retries=retries,
                  workspace_id=workspace_id)


for command in (demo, run, batch, dataset, instructions, collection, study, fake_server,
                submissions, bonus, hooks):
    cli.add_command(command)
cli.add_command(journal)
