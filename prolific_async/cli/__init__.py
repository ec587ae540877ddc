"""The ``prolific-async`` command: the SDK from a shell, and a demo that runs offline.

Example::

    $ prolific-async demo                       # 20 batches end to end on the embedded fake
    $ export PROLIFIC_TOKEN=...                 # then the same commands on the real API
    $ prolific-async batch list --workspace $WS --json

The command layer is thin: each command parses its arguments, calls the public
``prolific_async`` API and renders the answer (data on stdout, progress and errors on stderr).
It needs the ``cli`` extra (``pip install 'prolific-async[cli]'``) for click and rich, which
nothing outside this package imports.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> None:
    """The ``prolific-async`` entry point."""
    try:
        from ._app import cli
    except ModuleNotFoundError as exc:  # click or rich missing: the extra is not installed
        if exc.name not in ("click", "rich"):
            raise
        sys.stderr.write(
            f"error: the prolific-async command needs {exc.name}: "
            "pip install 'prolific-async[cli]'\n"
        )
        sys.exit(3)
    cli(prog_name="prolific-async")
