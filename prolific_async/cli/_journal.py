"""``prolific-async journal status``: where a run's plans stand, and who drives them."""

from __future__ import annotations

import click

import prolific_async as pa

from ._context import App, json_option, pass_app, run_async

__all__ = ["journal"]


@click.group()
def journal() -> None:
    """A run's journal: the SQLite file or PostgreSQL database of `run --journal`."""


@journal.command()
@click.option("--journal", "target", required=True, metavar="FILE|URL",
              help="The journal: a SQLite file, or a postgresql:// URL shared by workers.")
@json_option
@pass_app
def status(app: App, target: str) -> None:
    """Plans by stage, the workers of the run, who holds each lease, and stale leases.

    Reading a PostgreSQL journal does not join its run. A SQLite journal can only be read
    while no run has it open.
    """
    found = run_async(lambda: pa.journal_status(target))
    output = app.output
    if output.as_json:
        output.json(found)
        return
    output.table(("stage", "plans"), sorted(found.by_stage().items()),
                 empty="the journal holds no plans")
    if found.workers:
        output.table(("worker", "seen", "state", "leases"),
                     [(w.worker, f"{w.age:.0f}s ago", "live" if w.live else "stale", w.leases)
                      for w in found.workers], title="workers")
    held = [p for p in found.plans if p.holder is not None]
    if held:
        output.table(("plan", "stage", "holder", "lease"),
                     [(p.plan, f"{p.stage} ({p.state})" if p.stage else "-", p.holder,
                       "stale: another worker may take it over" if p.stale else "live")
                      for p in held], title="leases")
    if found.poll_ceiling is not None:
        live = sum(w.live for w in found.workers) or 1
        output.note(f"poll budget: {found.poll_ceiling:g}/s for the run, "
                    f"{found.poll_ceiling / live:g}/s for each of {live} live worker(s)")
