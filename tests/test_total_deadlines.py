"""Time is bounded: a server that trickles its answer a byte at a time resets the read timeout on
every byte, yet a plain call ends at its total timeout and a watch at its deadline."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.abc
import pytest

import prolific_async as pa

pytestmark = pytest.mark.anyio

TRICKLE_EVERY = 0.5


async def _trickle(stream: anyio.abc.SocketStream) -> None:
    """Read a request, promise a large JSON body, then send one space every half second."""
    async with stream:
        received = b""
        while b"\r\n\r\n" not in received:
            received += await stream.receive()
        await stream.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                          b"Content-Length: 100000\r\n\r\n")
        with anyio.move_on_after(30):  # a safety net: the client leaves long before
            while True:
                await anyio.sleep(TRICKLE_EVERY)  # the server's pace, not a wait for state
                await stream.send(b" ")


@asynccontextmanager
async def slow_loris() -> AsyncIterator[str]:
    """The base URL of a loopback server that never finishes an answer."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, _trickle)
        yield f"http://127.0.0.1:{port}"
        group.cancel_scope.cancel()


async def test_a_plain_call_to_a_trickling_server_times_out_at_its_total() -> None:
    async with slow_loris() as url, pa.Prolific(
            "t0ken-slow", base_url=url, timeouts=pa.Timeouts(read=2, total=2),
            retry=pa.RetryPolicy.disabled()) as client:
        started = time.monotonic()
        with pytest.raises(pa.APITimeoutError, match="timed out"):
            await client.batches.get("b1")
        # Read timeout 2 s never fires (a byte comes every 0.5 s): the total does.
        assert 1.5 <= time.monotonic() - started <= 3.0


async def test_a_wait_on_a_trickling_server_ends_at_its_deadline() -> None:
    async with slow_loris() as url, pa.Prolific(
            "t0ken-slow", base_url=url, timeouts=pa.Timeouts(read=2)) as client:
        started = time.monotonic()
        with pytest.raises(pa.PollTimeout) as caught:
            await client.batches.wait_ready("b1", poll=pa.PollPolicy(deadline=3))
        assert 2.0 <= time.monotonic() - started <= 4.0
        assert caught.value.resume_token["ids"] == ["b1"]
