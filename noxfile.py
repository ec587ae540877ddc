"""Development tasks: ``nox -s tests lint typecheck verifytypes docs bench soak``.

``tests`` runs once per supported Python (``tests-3.10`` … ``tests-3.13``); nox finds each
``python3.X`` on PATH (with pyenv: ``PATH=$(echo ~/.pyenv/versions/3.1*/bin | tr ' ' :):$PATH``).
"""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck", "verifytypes"]
nox.options.reuse_existing_virtualenvs = True


#: Every Python the package supports (pyproject's requires-python and classifiers).
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("mypy")


@nox.session
def verifytypes(session: nox.Session) -> None:
    """Every public name's type is known to users' type checkers (pyright: 100 %)."""
    session.install("-e", ".[dev]")
    session.run("pyright", "--verifytypes", "prolific_async", "--ignoreexternal")


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site, built strict into site/ (``-- serve`` to preview it live)."""
    session.install("-e", ".[docs]")
    command = session.posargs or ["build", "--strict"]
    session.run("mkdocs", *command, env={"NO_MKDOCS_2_WARNING": "1"})


@nox.session
def bench(session: nox.Session) -> None:
    session.install("-e", ".", "requests")  # requests: the baseline of orchestrate.py
    session.install("-e", ".[otel]", "opentelemetry-sdk")  # stage_spans.py records spans
    for script in ("overhead.py", "structure.py", "polling.py", "archive.py", "orchestrate.py",
                   "hooks.py", "journal.py", "stage_spans.py"):
        session.run("python", f"benchmarks/{script}")


@nox.session
def soak(session: nox.Session) -> None:
    """The long soak: 200 plans under faults, straight through and killed and resumed; it
    prints the figures the README's Reliability section quotes."""
    session.install("-e", ".[test]")
    session.run("pytest", "-m", "soak", "-s", "-q", "-n", "0", "-p", "no:cacheprovider",
                "tests/test_soak.py", *session.posargs, env={"SOAK_PLANS": "200"})
