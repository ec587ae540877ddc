"""Deliveries no server should send, answered with a 4xx or refused with `SignatureError`,
never a crash: headers that are not ASCII, a signed body nested deeper than JSON parsing goes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import MutableMapping
from typing import Any

import pytest

import prolific_async as pa

pytestmark = pytest.mark.anyio

SECRET = "whsec-review"
NOW = 1_700_000_000.0


def signed(body: bytes, timestamp: str) -> dict[str, str]:
    digest = hmac.new(SECRET.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return {"X-Prolific-Request-Timestamp": timestamp,
            "X-Prolific-Request-Signature": base64.b64encode(digest).decode()}


@pytest.mark.parametrize(("timestamp", "signature", "why"), [
    ("\ud800", "c2ln", "not a UNIX time"),
    ("\u0661\u0667" + "\u0660" * 8, "c2ln", "not a UNIX time"),  # Arabic-Indic digits
    (str(int(NOW)), "\udcff\ud800", "not base64"),
    (str(int(NOW)), "sïg", "not base64"),
])
def test_headers_that_are_not_ascii_are_a_signature_error(timestamp: str, signature: str,
                                                          why: str) -> None:
    with pytest.raises(pa.SignatureError, match=why):
        pa.verify_signature(b"{}", timestamp, signature, SECRET, now=NOW)


async def test_a_lone_surrogate_header_is_answered_401_by_the_receiver() -> None:
    receiver = pa.HookReceiver(SECRET)
    answer = await receiver.handle(b"{}", {"X-Prolific-Request-Timestamp": "\ud800",
                                           "X-Prolific-Request-Signature": "c2ln"})
    assert answer.status == 401 and "not a UNIX time" in answer.body


async def test_a_signed_body_nested_too_deeply_is_answered_400() -> None:
    receiver = pa.HookReceiver(SECRET, max_body=1 << 20)
    body = (b'{"resource_id":"s1","event_type":"study.status.change","x":'
            + b"[" * 100_000 + b"]" * 100_000 + b"}")
    answer = await receiver.handle(body, signed(body, str(int(time.time()))))
    assert answer.status == 400 and "nested too deeply" in answer.body
    assert receiver.accepted == 0 and receiver.rejected == 1


async def test_the_asgi_app_refuses_a_100_mb_body_after_reading_past_max_body_only() -> None:
    receiver = pa.HookReceiver(SECRET)
    chunk, total = 64 * 1024, 100 * 1024 * 1024
    given = 0
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        nonlocal given
        given += chunk
        return {"type": "http.request", "body": b"x" * chunk, "more_body": given < total}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await receiver.asgi({"type": "http", "method": "POST", "headers": []}, receive, send)

    assert sent[0]["status"] == 413
    assert given <= receiver.max_body + chunk  # read just past the limit, never the rest
    assert receiver.rejected == 1 and receiver.accepted == 0


@pytest.mark.parametrize(("name", "value"), [("remember", 0.5), ("buffer", 1.5),
                                             ("max_body", 1e6)])
def test_counts_that_are_not_whole_are_refused(name: str, value: float) -> None:
    # remember=0.5 passed as "> 0" and became 0: every event id forgotten at once.
    with pytest.raises(pa.ConfigurationError, match=f"{name} must be a whole number"):
        pa.HookReceiver(SECRET, **{name: value})
