"""``prolific-async hooks …``: webhook secrets and subscriptions, and a development receiver."""

from __future__ import annotations

from typing import Any

import click
from aiohttp import web

import prolific_async as pa

from ._context import App, json_option, pass_app, run_async, workspace_option

__all__ = ["hooks"]

SUBSCRIPTION_COLUMNS = ("id", "event type", "target url", "enabled")


@click.group()
def hooks() -> None:
    """Webhooks: Prolific POSTs study and submission events to your server."""


@hooks.command("event-types")
@json_option
@pass_app
def event_types(app: App) -> None:
    """List the event types that can be subscribed to."""
    found = app.run(lambda client: client.hooks.event_types())
    if app.output.as_json:
        app.output.json(found)
    else:
        app.output.table(("event type", "description"),
                         [(str(t.event_type), t.description) for t in found])


@hooks.command("create-secret")
@workspace_option
@json_option
@pass_app
def create_secret(app: App, workspace_id: str) -> None:
    """Make the workspace's signing secret and print it (it REPLACES the old one: receivers
    holding the old secret refuse every delivery from then on)."""
    secret = app.run(lambda client: client.hooks.create_secret(workspace_id))
    if app.output.as_json:
        app.output.json({"id": secret.id, "workspace_id": secret.workspace_id,
                         "value": secret.value.reveal()})
    else:
        app.output.note("new secret (the previous one no longer verifies); keep it safe:")
        app.output.line(secret.value.reveal())


@hooks.command("list")
@workspace_option
@click.option("--disabled", is_flag=True, help="List disabled subscriptions instead.")
@json_option
@pass_app
def list_subscriptions(app: App, workspace_id: str, disabled: bool) -> None:
    """List the workspace's subscriptions."""
    found = app.run(lambda client: client.hooks.subscriptions(workspace_id,
                                                               enabled=not disabled))
    if app.output.as_json:
        app.output.json(found)
    else:
        app.output.table(SUBSCRIPTION_COLUMNS, [
            (s.id, str(s.event_type), s.target_url, s.is_enabled) for s in found],
            empty="no subscriptions")


@hooks.command()
@workspace_option
@click.argument("event_type")
@click.argument("target_url")
@json_option
@pass_app
def subscribe(app: App, workspace_id: str, event_type: str, target_url: str) -> None:
    """Subscribe TARGET_URL (https) to EVENT_TYPE events, confirmed, and print its id."""
    sub = app.run(lambda client: client.hooks.subscribe(
        workspace_id=workspace_id, event_type=event_type, target_url=target_url))
    if app.output.as_json:
        app.output.json(sub)
    else:
        app.output.note(f"subscribed {target_url} to {event_type} (confirmed)")
        app.output.line(sub.id)


@hooks.command()
@click.argument("subscription_id")
@pass_app
def unsubscribe(app: App, subscription_id: str) -> None:
    """Delete a subscription."""
    app.run(lambda client: client.hooks.unsubscribe(subscription_id))
    app.output.note(f"deleted subscription {subscription_id}")


@hooks.command()
@click.argument("subscription_id")
@click.option("--status", type=click.Choice(["PENDING", "SUCCEEDED", "FAILED"]),
              help="Only deliveries in this state.")
@json_option
@pass_app
def events(app: App, subscription_id: str, status: str | None) -> None:
    """Print a subscription's delivery log, oldest first (JSON lines with --json)."""

    async def work(client: pa.Prolific) -> list[pa.HookDelivery]:
        found = []
        async for event in client.hooks.events(subscription_id, status=status):
            if app.output.as_json:
                app.output.json(event)
            else:
                found.append(event)
        return found

    rows = app.run(work)
    if not app.output.as_json:
        app.output.table(("id", "event type", "resource", "status", "created"), [
            (e.id, str(e.event_type), e.resource_id, str(e.status), e.datetime_created)
            for e in rows], empty="no deliveries")


@hooks.command()
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Port to listen on (0: any free port).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (put a tunnel or proxy with https in front).")
@click.option("--path", default="/", show_default=True, help="URL path to take POSTs on.")
@click.option("--secret", envvar="PROLIFIC_HOOK_SECRET", required=True,
              help="The workspace secret (or PROLIFIC_HOOK_SECRET; prefer the variable: a "
                   "command line is visible to other users).")
@json_option
@pass_app
def listen(app: App, port: int, host: str, path: str, secret: str) -> None:
    """Receive webhooks and print each verified event, for development behind a tunnel.

    Deliveries with a bad signature are answered 401 and reported on stderr.
    """
    if not path.startswith("/"):
        raise click.BadParameter("must start with /", param_hint="--path")
    receiver = pa.HookReceiver(secret)
    del secret

    async def main() -> None:
        web_app = web.Application()
        web_app.router.add_post(path, receiver.aiohttp_handler)
        # Ctrl-C stops it within a couple of seconds, even with a delivery's connection open.
        runner = web.AppRunner(web_app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
            bound_host, bound_port = runner.addresses[0][:2]
            app.output.note(f"listening on http://{bound_host}:{bound_port}{path}")
            async for event in receiver:
                _print_event(app, event)
        finally:
            await runner.cleanup()

    run_async(main)


def _print_event(app: App, event: pa.HookEvent) -> None:
    if app.output.as_json:
        fields: dict[str, Any] = {
            "event_id": event.event_id, "event_type": event.event_type,
            "resource_id": event.resource_id, "status": event.status,
            "participant_id": event.participant_id, "sent_at": event.sent_at}
        app.output.json({k: v for k, v in fields.items() if v is not None})
    else:
        when = f"{event.sent_at:%H:%M:%S} " if event.sent_at else ""
        app.output.line(f"{when}{event.event_type} {event.resource_id}"
                        f"{' ' + event.status if event.status else ''}")
