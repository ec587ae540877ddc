"""``prolific-async hooks …`` against a fake served from another thread, and ``hooks listen``
as a real process receiving the fake's signed deliveries."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator

import pytest

import prolific_async as pa

from .cli_support import Served, command, invoke, one_error_line, served, subprocess_env
from .helpers import published_study, ready_batch


@pytest.fixture
def fake() -> Iterator[Served]:
    with served() as running:
        yield running


def test_subscribe_list_events_and_unsubscribe(fake: Served) -> None:
    assert "study.status.change" in invoke(fake, "hooks", "event-types").stdout
    secret = invoke(fake, "hooks", "create-secret").stdout.strip()
    assert secret == fake.fake.hooks.secrets[fake.fake.workspace_id]["value"]
    created = invoke(fake, "hooks", "subscribe", "study.status.change", "http://127.0.0.1:9/h")
    sub_id = created.stdout.strip()
    assert fake.fake.hooks.subscriptions[sub_id].confirmed
    listed = invoke(fake, "hooks", "list", "--json")
    assert [s["id"] for s in json.loads(listed.stdout)] == [sub_id]
    assert "no deliveries" in invoke(fake, "hooks", "events", sub_id).stderr
    invoke(fake, "hooks", "unsubscribe", sub_id)
    assert "no subscriptions" in invoke(fake, "hooks", "list").stderr


def test_subscribe_refuses_plain_http_off_loopback_with_one_line(fake: Served) -> None:
    result = invoke(fake, "hooks", "subscribe", "study.status.change", "http://example.com/h")
    assert result.exit_code != 0
    assert "https" in one_error_line(result)


def test_listen_prints_each_verified_event(fake: Served) -> None:
    secret = invoke(fake, "hooks", "create-secret").stdout.strip()
    env = subprocess_env(PROLIFIC_HOOK_SECRET=secret)
    with subprocess.Popen(command("hooks", "listen", "--port", "0", "--path", "/hooks",
                                  "--json"), env=env, text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as process:
        try:
            assert process.stderr is not None and process.stdout is not None
            banner = process.stderr.readline()
            assert banner.startswith("listening on http://127.0.0.1:"), banner
            url = banner.split()[-1]
            invoke(fake, "hooks", "subscribe", "study.status.change", url)

            async def publish(client: pa.Prolific) -> pa.Study:
                batch = await ready_batch(client, fake.fake)
                return await published_study(client, fake.fake, batch)

            study = fake.call(publish)
            fake.portal.call(fake.fake.hooks.settle)
            assert [d.status for d in fake.fake.hooks.deliveries] == ["SUCCEEDED"]
            printed = json.loads(process.stdout.readline())
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.communicate(timeout=30)
            except subprocess.TimeoutExpired:  # fail, never hang the suite
                process.kill()
                process.communicate()
                raise
    assert printed["event_type"] == "study.status.change"
    assert (printed["resource_id"], printed["status"]) == (study.id, "ACTIVE")
    assert printed["event_id"] == fake.fake.hooks.deliveries[0].id
