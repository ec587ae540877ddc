"""Journal URLs as users write them: a password anywhere in the URL is never shown, and the
libpq forms without a host part (``postgresql:///db?host=...``) reach PostgreSQL intact."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import anyio
import pytest

import prolific_async as pa
from prolific_async.orchestration._journal_api import open_journal
from prolific_async.orchestration._leases import display_url

from .cli_support import invoke, one_error_line
from .pg_cluster import postgres_url

__all__ = ["postgres_url"]  # the fixture, imported for pytest


@pytest.mark.parametrize("url", [
    "postgresql://run:hunter2@db/prolific",
    "postgresql://run@db/prolific?password=hunter2",
    "postgres://run@db/prolific?sslmode=require&PASSWORD=hunter2&lease_timeout=5",
    "postgresql://run@db/prolific?password=hunter%32",
])
def test_display_url_hides_a_password_in_the_user_part_or_the_query(url: str) -> None:
    shown = display_url(url)
    assert "hunter" not in shown
    assert "***" in shown
    assert shown.split("@")[-1].startswith("db/prolific")


def test_journal_status_never_prints_a_password_given_in_the_query(tmp_path: Path) -> None:
    # A unix socket folder with no server in it: the connection fails before any password
    # is sent, and the message names the journal.
    url = f"postgresql:///prolific?host={tmp_path}&user=run&password=hunter2"
    result = invoke(None, "journal", "status", "--journal", url)
    assert result.exit_code == 3
    assert "hunter2" not in result.stdout + result.stderr
    assert "cannot open journal" in one_error_line(result)
    # The URL reached libpq whole: it failed to connect, not to parse.
    assert "invalid connection option" not in result.stderr


def test_a_url_without_a_host_part_opens_the_journal(postgres_url: str) -> None:
    parts = urlsplit(postgres_url)
    url = (f"postgresql:///postgres?host={parts.hostname}&port={parts.port}"
           f"&user={parts.username}&lease_timeout=5")

    async def look() -> pa.JournalStatus:
        async with open_journal(url) as journal:
            return await journal.status()

    assert anyio.run(look).plans == ()


@pytest.mark.parametrize("url", [
    "postgresql://run:hun%zzter@127.0.0.1/prolific",
    "postgresql:///prolific?host=/nowhere&password=hun%zzter",
])
def test_a_password_libpq_cannot_read_is_not_quoted_back(url: str) -> None:
    async def open_it() -> None:
        async with open_journal(url):
            pass  # pragma: no cover

    with pytest.raises(pa.ConfigurationError, match="cannot open journal") as caught:
        anyio.run(open_it)
    assert "hun" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
