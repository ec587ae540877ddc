"""``prolific-async run PLAN.toml``: the plans of a file, driven together, resumable."""

from __future__ import annotations

from pathlib import Path

import click

import prolific_async as pa

from ._context import App, pass_app
from ._live import Outcome, check, drive, summary

__all__ = ["run"]


@click.command()
@click.argument("plan_file", metavar="PLAN.toml", type=click.Path(path_type=Path))
@click.option("--journal", metavar="FILE|URL",
              help="SQLite file that records progress: rerun with it to resume. Or a "
                   "postgresql:// URL, shared by every worker running the same plans.")
@click.option("--concurrency", "-c", type=click.IntRange(min=1), default=50,
              show_default=True, help="How many plans may be in flight together.")
@pass_app
def run(app: App, plan_file: Path, journal: str | None, concurrency: int) -> None:
    """Run every plan of a TOML plan file: dataset to export, live.

    With --journal, an interrupted or failed run resumes where it stopped when the same
    command runs again; nothing is created or published twice.
    """
    plans = pa.load_plans(plan_file)
    if journal is None:
        app.output.note("no --journal: an interrupted run cannot resume")

    async def work(client: pa.Prolific) -> Outcome:
        return await drive(app.output, client, plans, concurrency=concurrency, journal=journal)

    # A URL may carry a password: the closing lines name a file, never a URL.
    shown = "the same URL" if journal and "://" in journal else journal
    try:
        outcome = app.run(work)
    except KeyboardInterrupt:
        if journal is not None:
            app.output.note(f"stopped: run the same command again to resume from {shown}")
        raise
    summary(app.output, outcome)
    check(outcome, hint=f" (rerun with --journal {shown} to resume)" if journal else "")
