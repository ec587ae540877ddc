"""``prolific-async fake-server`` in a subprocess: what it prints works, and Ctrl-C stops it."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
from pathlib import Path

from .cli_support import command, run, subprocess_env


def test_serves_what_it_prints_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    server = subprocess.Popen(command("fake-server", "--seed", "3"), env=subprocess_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        exports = "".join(server.stdout.readline() for _ in range(3))
        # The lines are meant for a shell's eval: let a shell read them back.
        (tmp_path / "env.sh").write_text(exports)
        shell = subprocess.run(
            ["sh", "-c", '. ./env.sh && echo "$PROLIFIC_URL $PROLIFIC_TOKEN $PROLIFIC_WORKSPACE"'],
            cwd=tmp_path, capture_output=True, text=True, check=True)
        url, token, workspace = shell.stdout.split()
        assert url.startswith("http://127.0.0.1:")

        env = {"PROLIFIC_URL": url, "PROLIFIC_TOKEN": token, "PROLIFIC_WORKSPACE": workspace}
        created = run("dataset", "create", "--name", "mine", **env)
        assert created.returncode == 0, created.stderr
        listed = run("--json", "dataset", "status", created.stdout.strip(), **env)
        assert json.loads(listed.stdout)["name"] == "mine"
    finally:
        server.send_signal(signal.SIGINT)
        _, err = server.communicate(timeout=20)
    assert server.returncode == 0, err
    assert "fake Prolific API stopped" in err and "Traceback" not in err


def test_sigterm_stops_it_too() -> None:
    server = subprocess.Popen(command("fake-server"), env=subprocess_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert server.stdout is not None
    assert server.stdout.readline().startswith("export PROLIFIC_URL=")
    server.terminate()
    _, err = server.communicate(timeout=20)
    assert server.returncode == 0, err


def test_it_serves_on_the_port_asked_for() -> None:
    with socket.socket() as probe:  # a port free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(command("fake-server", "--port", str(port)), env=subprocess_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert server.stdout is not None
    try:
        assert server.stdout.readline().strip() == f"export PROLIFIC_URL=http://127.0.0.1:{port}"
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=20)
    assert server.returncode == 0
