"""``prolific-async submissions …``: list, approve (which pays the reward) and reject."""

from __future__ import annotations

import click

import prolific_async as pa

from ._confirm import check_can_confirm, confirm
from ._context import App, json_option, pass_app
from ._errors import USAGE, CommandError

__all__ = ["submissions"]

_CATEGORIES = [c.value for c in pa.RejectionCategory]


@click.group()
def submissions() -> None:
    """A study's submissions: review them, approve (pays the reward) or reject."""


@submissions.command("list")
@click.argument("study_id")
@click.option("--status", help='Only this status (e.g. "AWAITING REVIEW").')
@json_option
@pass_app
def list_(app: App, study_id: str, status: str | None) -> None:
    """List a study's submissions, every page."""

    async def work(client: pa.Prolific) -> list[pa.Submission]:
        return [s async for s in client.submissions.list(study_id, status=status)]

    found = app.run(work)
    if app.output.as_json:
        app.output.json(found)
    else:
        app.output.table(("id", "participant", "status", "started", "completed"), (
            (s.id, s.participant_id, s.status,
             f"{s.started_at:%Y-%m-%d %H:%M}" if s.started_at else "",
             f"{s.completed_at:%Y-%m-%d %H:%M}" if s.completed_at else "") for s in found),
            empty=f"no submissions in study {study_id}")


@submissions.command()
@click.argument("study_id")
@click.argument("submission_ids", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every submission AWAITING REVIEW.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask: approving pays the rewards.")
@json_option
@pass_app
def approve(app: App, study_id: str, submission_ids: tuple[str, ...], every: bool,
            yes: bool) -> None:
    """Approve submissions (IDS, or --all awaiting review): participants are paid.

    Sent in chunks of at most 1,000, one after another, then followed until APPROVED.
    """
    if every == bool(submission_ids):
        raise CommandError("give submission ids or --all (not both)", USAGE)
    check_can_confirm(yes, "approving")
    ids = list(submission_ids)
    if every:

        async def waiting(client: pa.Prolific) -> list[str]:
            return [s.id async for s in client.submissions.list(
                study_id, status=pa.SubmissionStatus.AWAITING_REVIEW)]

        ids = app.run(waiting)
        if not ids:
            app.output.note(f"no submissions of study {study_id} await review")
            return
    confirm(yes, f"Approve {len(ids)} submission(s) of study {study_id}? Participants will be "
                 "paid their reward")

    async def work(client: pa.Prolific) -> pa.BulkApproval:
        return await client.submissions.bulk_approve(study_id, ids)

    result = app.run(work)
    if app.output.as_json:
        app.output.json(result)
        return
    app.output.note(f"approved {len(result.approved)} of {len(ids)} submission(s) in "
                    f"{result.requests} request(s)")
    for submission_id, status in result.other.items():
        app.output.line(f"{submission_id}: {status} (not approved)")


@submissions.command()
@click.argument("submission_id")
@click.option("--message", "-m", required=True,
              help="Why, for the participant (at least 100 characters).")
@click.option("--category", "-c", required=True, type=click.Choice(_CATEGORIES),
              help="The rejection category.")
@json_option
@pass_app
def reject(app: App, submission_id: str, message: str, category: str) -> None:
    """Reject a submission, telling the participant why."""

    async def work(client: pa.Prolific) -> pa.Submission:
        return await client.submissions.reject(submission_id, message=message,
                                               category=category)

    rejected = app.run(work)
    if app.output.as_json:
        app.output.json(rejected)
    else:
        app.output.note(f"rejected submission {submission_id}")
        app.output.line(str(rejected.status))
