"""Ids and filenames that could change which URL is called are refused before any request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

import prolific_async as pa
from prolific_async.testing import FakeProlific

pytestmark = pytest.mark.anyio

BAD_IDS = ["../studies", "a/b", "..", "a b", "a\nb", "a\x00b", "a?x=1", "a#frag", "%2e%2e", "",
           # Lookalikes that some servers fold (NFKC) into "/", ".." and a space.
           "a\uff0fb", "\u2025", "\u00a0b"]

CALLS: dict[str, Callable[[pa.Prolific, str], Awaitable[Any]]] = {
    "datasets.get": lambda c, i: c.datasets.get(i),
    "datasets.status": lambda c, i: c.datasets.status(i),
    "datasets.upload_url(filename)": lambda c, i: c.datasets.upload_url("ds", i),
    "datasets.import_status": lambda c, i: c.datasets.import_status("ds", i),
    "batches.get": lambda c, i: c.batches.get(i),
    "batches.update": lambda c, i: c.batches.update(i, name="x"),
    "batches.setup": lambda c, i: c.batches.setup(i),
    "batches.duplicate": lambda c, i: c.batches.duplicate(i),
    "batches.report": lambda c, i: c.batches.report(i),
    "batches.export_status": lambda c, i: c.batches.export_status("b", i),
    "batches.sync_status": lambda c, i: c.batches.sync_status("b", i),
    "instructions.get": lambda c, i: c.instructions.get(i),
    "collections.get": lambda c, i: c.collections.get(i),
    "collections.request_export": lambda c, i: c.collections.request_export(i),
    "studies.get": lambda c, i: c.studies.get(i),
    "studies.publish": lambda c, i: c.studies.publish(i),
}


@pytest.mark.parametrize("bad", BAD_IDS)
@pytest.mark.parametrize("call", sorted(CALLS))
async def test_bad_ids_are_refused_before_sending(
    prolific_client: pa.Prolific, fake_prolific: FakeProlific, call: str, bad: str
) -> None:
    with pytest.raises(ValueError, match="valid path segment"):
        await CALLS[call](prolific_client, bad)
    assert fake_prolific.requests == []


async def test_error_names_the_parameter(prolific_client: pa.Prolific) -> None:
    with pytest.raises(ValueError, match="export_id"):
        await prolific_client.batches.export_status("b1", "../x")
    with pytest.raises(ValueError, match="batch_id"):
        await prolific_client.batches.get("../x")


async def test_bad_upload_filename(prolific_client: pa.Prolific, fake_prolific: FakeProlific,
                                   tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a\n1\n")
    with pytest.raises(ValueError, match="filename"):
        await prolific_client.datasets.upload("ds", data, filename="../../etc/passwd")
    assert fake_prolific.requests == []


async def test_watchers_validate_too(prolific_client: pa.Prolific,
                                     fake_prolific: FakeProlific) -> None:
    with pytest.raises(ValueError, match="batch_id"):
        prolific_client.batches.watch("a/b")
    with pytest.raises(ValueError, match="sync_id"):
        prolific_client.batches.watch_sync("b", "..")
    assert fake_prolific.requests == []
