"""``prolific-async fake-server``: the fake Prolific API for a user's own code and tests."""

from __future__ import annotations

import shlex
import signal

import anyio
import click

from prolific_async.testing import FakeClock, FakeProlific

from ._context import App, pass_app, run_async

__all__ = ["fake_server"]


@click.command("fake-server")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on.")
@click.option("--port", type=click.IntRange(0, 65535), default=0,
              help="Port to serve on [default: any free port].")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed for ids, participants' answers and injected faults.")
@click.option("--speed", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="How much faster than real time jobs progress.")
@pass_app
def fake_server(app: App, host: str, port: int, seed: int, speed: float) -> None:
    """Serve the fake Prolific API until Ctrl-C.

    It prints the variables to point this command (or your code) at it, as `export` lines
    a shell can eval. Everything stays in memory; nothing leaves the machine.
    """
    async def serve() -> None:
        # Signals are caught before anything is printed: whoever reads the lines may stop
        # the server at once.
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            # record=False: a long-running server must not keep every request in memory.
            async with FakeProlific(clock=FakeClock(speed=speed), seed=seed,
                                    record=False, host=host, port=port) as fake:
                for name, value in (("PROLIFIC_URL", fake.url), ("PROLIFIC_TOKEN", fake.token),
                                    ("PROLIFIC_WORKSPACE", fake.workspace_id)):
                    app.output.line(f"export {name}={shlex.quote(value)}")
                app.output.note(f"fake Prolific API on {fake.url} (Ctrl-C stops it)")
                async for _ in signals:
                    break
        app.output.note("fake Prolific API stopped")

    run_async(serve)
