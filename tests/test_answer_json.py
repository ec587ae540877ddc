"""Answers read the same whichever JSON parser this install has: json on UTF-8 text, or
orjson (the ``[fast]`` extra), falling back to ``json.loads`` of the bytes for what the fast
path refuses, and refusing deep nesting and non-JSON with a clear error either way."""

from __future__ import annotations

import json

import pytest

import prolific_async as pa
from prolific_async import _jsonparse
from prolific_async.testing import FakeProlific

pytestmark = pytest.mark.anyio

PATH = "/api/v1/data-collection/batches/b1"


@pytest.fixture(params=sorted(_jsonparse.PARSERS))
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(_jsonparse, "loads", _jsonparse.PARSERS[request.param])
    return str(request.param)


def test_the_fast_extra_is_used_when_installed() -> None:
    try:
        import orjson
    except ImportError:
        assert _jsonparse.loads is _jsonparse.PARSERS["json"]
    else:
        assert _jsonparse.loads is orjson.loads


async def answer(body: str) -> object:
    """What the transport makes of a 200 answer with this body (sent as UTF-8 text)."""
    async with FakeProlific() as fake:
        fake.inject(method="GET", path=PATH, status=200, body=body, times=1)
        async with pa.Prolific(fake.token, base_url=fake.url) as client:
            return (await client._context.transport.request("GET", PATH)).data


# What orjson refuses and json reads (NaN, a big integer, a lone surrogate, a UTF-8
# byte-order mark), and what both read alike (unicode, floats, nesting within the limit).
BODIES = [
    '{"id": "b1", "name": "caf\\u00e9 \u2615", "n": 1.5e-7, "list": [1, 2.0, true, null]}',
    '{"score": NaN, "big": 123456789012345678901234567890}',
    '{"text": "\\ud800 alone"}',
    "\ufeff" + '{"id": "b1"}',
    "[" * 500 + "]" * 500,
]


@pytest.mark.parametrize("body", BODIES, ids=["plain", "nan-bigint", "surrogate", "bom",
                                              "nested-500"])
async def test_an_answer_reads_as_json_loads_reads_it(parser: str, body: str) -> None:
    got = await answer(body)
    expected = json.loads(body.encode())
    # NaN != NaN: compare the JSON they write back.
    assert json.dumps(got) == json.dumps(expected), parser


@pytest.mark.parametrize("body", ["", "  \n"])
async def test_an_empty_answer_is_none(parser: str, body: str) -> None:
    assert await answer(body) is None


async def test_deep_nesting_is_an_unexpected_response(parser: str) -> None:
    with pytest.raises(pa.UnexpectedResponseError, match="nested too deeply"):
        await answer("[" * 100_000 + "]" * 100_000)


async def test_a_body_that_is_not_json_says_so(parser: str) -> None:
    with pytest.raises(pa.UnexpectedResponseError, match=r"not JSON \(text/html"):
        await answer("<html>oops</html>")
