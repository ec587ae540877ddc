"""Webhook signatures, checked against vectors built by hand from Prolific's documented scheme:
base64(HMAC-SHA256(secret, X-Prolific-Request-Timestamp + raw body))."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

import prolific_async as pa

SECRET = "cGNqFPb6y0RT3XO9XVSessBDYIbHQ"  # the shape of the spec's SecretDetail example
TIMESTAMP = "1764662400"  # 2025-12-02 08:00:00 UTC
BODY = b'{"resource_id": "6394cee383e14a167638b368", "event_type": "study.status.change", ' \
       b'"metadata": {}, "status": "AWAITING REVIEW"}'
NOW = 1764662400.0


def by_hand(secret: str, timestamp: str, body: bytes) -> str:
    """The documented recipe, written out: sign timestamp then body, SHA256, base64."""
    mac = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


GOOD = by_hand(SECRET, TIMESTAMP, BODY)


def test_the_hand_built_vector_is_what_the_docs_python_example_computes() -> None:
    # The docs' example (json.dumps of the parsed body) gives the same bytes here, because
    # this body was written with Python's separators: the vector follows the documentation.
    body = json.dumps(json.loads(BODY)).encode()
    assert body == BODY
    docs = base64.b64encode(hmac.new(SECRET.encode(), str.encode(TIMESTAMP + body.decode()),
                                     hashlib.sha256).digest())
    assert docs.decode() == GOOD


def test_a_good_signature_passes() -> None:
    pa.verify_signature(BODY, TIMESTAMP, GOOD, SECRET, now=NOW)
    pa.verify_signature(BODY, TIMESTAMP, GOOD, pa.Secret(SECRET), now=NOW + 299)


def test_a_changed_body_is_refused() -> None:
    changed = BODY.replace(b"AWAITING REVIEW", b"COMPLETED")
    with pytest.raises(pa.SignatureError, match="does not match the body"):
        pa.verify_signature(changed, TIMESTAMP, GOOD, SECRET, now=NOW)


def test_the_same_json_serialised_differently_is_refused_so_raw_bytes_must_be_passed() -> None:
    compact = json.dumps(json.loads(BODY), separators=(",", ":")).encode()
    with pytest.raises(pa.SignatureError):
        pa.verify_signature(compact, TIMESTAMP, GOOD, SECRET, now=NOW)
    with pytest.raises(TypeError, match="raw request bytes"):
        pa.verify_signature(BODY.decode(), TIMESTAMP, GOOD, SECRET, now=NOW)  # type: ignore[arg-type]


def test_a_wrong_secret_is_refused() -> None:
    with pytest.raises(pa.SignatureError, match="wrong secret"):
        pa.verify_signature(BODY, TIMESTAMP, GOOD, SECRET + "x", now=NOW)


def test_a_changed_timestamp_is_refused_even_when_fresh() -> None:
    with pytest.raises(pa.SignatureError, match="does not match"):
        pa.verify_signature(BODY, str(int(TIMESTAMP) + 1), GOOD, SECRET, now=NOW)


@pytest.mark.parametrize("offset", [-301, 301, 86400])
def test_a_stale_or_future_timestamp_is_refused_even_when_signed(offset: float) -> None:
    with pytest.raises(pa.SignatureError, match="beyond the 300 s tolerance"):
        pa.verify_signature(BODY, TIMESTAMP, GOOD, SECRET, now=NOW + offset)
    pa.verify_signature(BODY, TIMESTAMP, GOOD, SECRET, now=NOW + offset,
                        tolerance=abs(offset) + 1)


@pytest.mark.parametrize(("timestamp", "signature", "missing"), [
    (None, GOOD, "X-Prolific-Request-Timestamp"),
    ("", GOOD, "X-Prolific-Request-Timestamp"),
    (TIMESTAMP, None, "X-Prolific-Request-Signature"),
    (TIMESTAMP, "", "X-Prolific-Request-Signature"),
])
def test_a_missing_header_is_refused_naming_it(timestamp: str | None, signature: str | None,
                                               missing: str) -> None:
    with pytest.raises(pa.SignatureError, match=f"{missing} header is missing"):
        pa.verify_signature(BODY, timestamp, signature, SECRET, now=NOW)


def test_a_signed_timestamp_that_is_not_a_number_is_refused() -> None:
    stamp = "yesterday"
    with pytest.raises(pa.SignatureError, match="not a UNIX time"):
        pa.verify_signature(BODY, stamp, by_hand(SECRET, stamp, BODY), SECRET, now=NOW)


def test_an_empty_secret_is_a_configuration_error() -> None:
    with pytest.raises(pa.ConfigurationError, match="secret"):
        pa.verify_signature(BODY, TIMESTAMP, GOOD, "", now=NOW)
