"""A throwaway PostgreSQL cluster for the journal tests: ``initdb`` into a temporary folder,
``pg_ctl start`` on a free loopback port with its unix socket in the same folder, stopped at
the end of the session.

``initdb`` refuses to run as root, and CI and sessions run as root: there the cluster belongs
to the ``postgres`` user (``runuser``). Binaries come from ``pg_config --bindir``, else
Debian's folders (``/usr/lib/postgresql/<version>/bin``, newest first), else the PATH. Only
when none of these exist, or psycopg is not installed, are the tests skipped, with the reason.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["journal_url", "postgres_url"]

#: Where Debian's postgresql packages put the server binaries (not on the PATH).
_DEBIAN = Path("/usr/lib/postgresql")
_USER = "postgres"


def _bindir() -> Path | None:
    candidates: list[Path] = []
    if shutil.which("pg_config"):
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True,
                               timeout=30, check=False)
        if found.returncode == 0:
            candidates.append(Path(found.stdout.strip()))
    if _DEBIAN.is_dir():
        versions = sorted((p for p in _DEBIAN.iterdir() if p.name.isdigit()),
                          key=lambda p: int(p.name), reverse=True)
        candidates.extend(version / "bin" for version in versions)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _user_exists() -> bool:
    try:
        pwd.getpwnam(_USER)
    except KeyError:
        return False
    return True


def _as_owner(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", _USER, "--", *command]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The URL of a fresh cluster's ``postgres`` database, trusted on loopback."""
    pytest.importorskip("psycopg", reason="the [postgres] extra (psycopg) is not installed")
    pytest.importorskip("psycopg_pool", reason="the [postgres] extra (psycopg) is not installed")
    bindir = _bindir()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (no initdb/pg_ctl from pg_config --bindir, "
                    f"{_DEBIAN}/*/bin or the PATH); `apt-get install postgresql`")
    if os.geteuid() == 0 and (shutil.which("runuser") is None or not _user_exists()):
        pytest.skip(f"running as root without runuser or a {_USER!r} user to run initdb as "
                    "(initdb refuses root)")
    folder = Path(tempfile.mkdtemp(prefix="prolific-pg-"))
    data = folder / "data"
    try:
        if os.geteuid() == 0:
            shutil.chown(folder, _USER, _USER)
        subprocess.run(_as_owner([str(bindir / "initdb"), "-D", str(data), "-U", _USER,
                                  "-A", "trust", "--no-sync", "-E", "UTF8"]),
                       check=True, capture_output=True, timeout=120)
        # The free port may be taken by another process before the server binds it: retry.
        for attempt in range(3):
            port = _free_port()
            # A test cluster: nothing to keep on a crash, so no fsync; few connections suffice.
            options = (f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60")
            started = subprocess.run(
                _as_owner([str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l",
                           str(folder / "log"), "-w", "-t", "60", "start"]),
                capture_output=True, timeout=120, check=attempt == 2)
            if started.returncode == 0:
                break
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        log = folder / "log"
        detail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"could not start a test PostgreSQL cluster: {exc}\n{detail}"
                           ) from exc
    try:
        yield f"postgresql://{_USER}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_owner([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                                  "-w", "stop"]), capture_output=True, timeout=120, check=False)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def journal_url(postgres_url: str, request: pytest.FixtureRequest) -> str:
    """A new, empty database of the session's cluster, for one test."""
    import psycopg

    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:50].lower()
    name = f"{name}_{os.getpid()}"
    with psycopg.connect(postgres_url, autocommit=True, connect_timeout=30) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    return postgres_url.rsplit("/", 1)[0] + "/" + name
