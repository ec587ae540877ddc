"""``prolific-async run PLAN.toml``: the plans of a file, driven together, resumable.

Publishing spends money, so on an API that is not this machine (the real one) a run whose
plans publish asks first, showing how many studies and what they cost (a dry run: reads and
Prolific's cost calculator); without a terminal it refuses unless ``--yes``. Declining ends
with its own exit code (9). ``--dry-run`` only shows what would be done.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

import anyio
import click

import prolific_async as pa

from .._urls import is_loopback
from ._context import App, pass_app
from ._errors import DECLINED, CommandError
from ._live import Outcome, check, drive, summary
from ._output import Output
from ._tracing import stage_spans

__all__ = ["run"]


@click.command()
@click.argument("plan_file", metavar="PLAN.toml", type=click.Path(path_type=Path))
@click.option("--journal", metavar="FILE|URL",
              help="SQLite file that records progress: a rerun with it sends fewer requests. "
                   "Or a postgresql:// URL, shared by every worker running the same plans.")
@click.option("--concurrency", "-c", type=click.IntRange(min=1), default=50,
              show_default=True, help="How many plans may be in flight together.")
@click.option("--dry-run", is_flag=True,
              help="Only read: show what exists, what would be created, and what publishing "
                   "would cost. Nothing is created or changed.")
@click.option("--yes", "-y", is_flag=True,
              help="Publish on the real API without asking (needed without a terminal).")
@pass_app
def run(app: App, plan_file: Path, journal: str | None, concurrency: int, dry_run: bool,
        yes: bool) -> None:
    """Run every plan of a TOML plan file: dataset to export, live.

    A rerun (with or without --journal) finds on the server what an earlier run made, by
    each plan's name, and goes on from there: nothing is created or published twice. On the
    real API, plans that publish are confirmed first (--yes skips the question; exit code 9
    when declined). Run under opentelemetry-instrument (the otel extra), each plan, stage and
    request is an OpenTelemetry span.
    """
    plans = pa.load_plans(plan_file)
    if dry_run:
        results = app.run(lambda client: _dry_run(client, plans, concurrency))
        _show_dry_run(app.output, plans, results)
        return
    if journal is None:
        app.output.note("no --journal: a rerun finds what this run made on the server, with "
                        "a few more requests")

    async def work(client: pa.Prolific) -> Outcome:
        if not yes and _spends_money(client.base_url) and any(
                plan.study is not None and plan.study.publish for plan in plans):
            await _confirm(app.output, client, plans, concurrency)
        return await drive(app.output, client, plans, concurrency=concurrency, journal=journal,
                           on_stage=stage_spans())

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


def _spends_money(base_url: str) -> bool:
    """Whether the API is elsewhere than this machine (the fake server is on loopback)."""
    return not is_loopback(urlsplit(base_url).hostname)


def _on_terminal() -> bool:
    return sys.stdin.isatty() and sys.stderr.isatty()


async def _dry_run(client: pa.Prolific, plans: Sequence[pa.BatchPlan], concurrency: int
                   ) -> list[tuple[pa.PlanResult, list[pa.PipelineEvent]]]:
    shown: dict[str, list[pa.PipelineEvent]] = {plan.name: [] for plan in plans}
    async with pa.orchestrate(client, plans, concurrency=concurrency, dry_run=True) as run:
        async for event in run:
            shown[event.plan].append(event)
    return [(result, shown[result.plan]) for result in run.results]


def _cost_line(results: Sequence[pa.PlanResult]) -> tuple[int, str]:
    priced = [r.publish_cost for r in results if r.publish_cost is not None]
    if not priced:
        return 0, "no study would be published"
    return len(priced), (f"{len(priced)} {'study' if len(priced) == 1 else 'studies'} would "
                         f"be published: {sum(priced) / 100:,.2f} in total, fees and VAT "
                         "included (in your account's currency)")


def _bonus_line(plans: Sequence[pa.BatchPlan]) -> str | None:
    """The most the plans' bonuses could pay (each plan's ceiling for each place)."""
    paying = [p.study for p in plans if p.study is not None and p.study.bonus is not None]
    if not paying:
        return None
    most = sum(study.most_bonus * study.places for study in paying)
    return (f"{len(paying)} {'plan' if len(paying) == 1 else 'plans'} would pay bonuses: at "
            f"most {most / 100:,.2f} before fees")


def _show_dry_run(output: Output, plans: Sequence[pa.BatchPlan],
                  found: list[tuple[pa.PlanResult, list[pa.PipelineEvent]]]) -> None:
    results = [result for result, _ in found]
    if output.as_json:
        output.json({"plans": [{"plan": r.plan, "batch_id": r.batch_id,
                                "study_id": r.study_id, "publish_cost": r.publish_cost,
                                "error": str(r.error) if r.error else None,
                                "stages": {str(e.stage): e.message for e in events
                                           if e.kind is pa.EventKind.PLANNED},
                                "warnings": [e.message for e in events
                                             if e.kind is pa.EventKind.WARNING]}
                               for r, events in found]})
    else:
        for _, events in found:
            for event in events:
                if event.kind in (pa.EventKind.PLANNED, pa.EventKind.WARNING):
                    kind = "warning: " if event.kind is pa.EventKind.WARNING else ""
                    output.line(f"{event.plan}  {event.stage}  {kind}{event.message}")
        output.line(_cost_line(results)[1])
        bonuses = _bonus_line(plans)
        if bonuses:
            output.line(bonuses)
    check(Outcome(results=results, tasks={}, requests=0, retries=0, wall=0.0, exports=[]))


async def _confirm(output: Output, client: pa.Prolific, plans: Sequence[pa.BatchPlan],
                   concurrency: int) -> None:
    """Ask before a run that publishes on the real API; refuse without a terminal."""
    if not _on_terminal():
        raise CommandError(
            f"plans would publish studies on {client.base_url}, which spends money: see what "
            "and how much with --dry-run, then run again with --yes", DECLINED)
    found = await _dry_run(client, plans, concurrency)
    count, line = _cost_line([result for result, _ in found])
    bonuses = _bonus_line(plans)
    if count == 0 and bonuses is None:
        return
    output.note(line)
    if bonuses:
        output.note(bonuses)
    question = "Publish them?" if bonuses is None else "Publish them and pay the bonuses?"
    if not await anyio.to_thread.run_sync(
            lambda: click.confirm(question, default=False, err=True)):
        raise CommandError("declined: nothing was created", DECLINED)
