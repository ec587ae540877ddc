"""Exit codes, and the one line each kind of failure prints on stderr.

Every failure ends the command with one line on stderr (``error: …``) and an exit code a
script can branch on; ``--debug`` adds the traceback. The codes (also in ``--help``)::

    0    success
    1    the API answered with an error not listed below, or something unexpected happened
    2    usage: a bad option, argument or id
    3    configuration: no token in PROLIFIC_TOKEN, a bad base URL, a missing extra
    4    authentication: the token was refused (401) or lacks permission (403)
    5    not found: an unknown id (404)
    6    input: a file that does not exist or cannot be read; an invalid plan or JSON file
    7    network: the API could not be reached, even after retries
    8    a job failed (ERROR / failed), or did not finish before its deadline
    9    declined: a run that would publish on the real API was not confirmed (--yes)
    130  interrupted (Ctrl-C)
    141  the reader of stdout went away (``| head``): the command stops quietly
"""

from __future__ import annotations

import json
import textwrap

import prolific_async as pa

__all__ = ["EXIT_CODES", "CommandError", "describe"]

#: The table above, for ``--help``.
EXIT_CODES = textwrap.dedent(__doc__.split("::", 1)[1]).strip("\n") if __doc__ else ""

OK, FAILURE, USAGE, CONFIG, AUTH, NOT_FOUND, INPUT, NETWORK, JOB_FAILED, DECLINED = range(10)
INTERRUPTED = 130


class CommandError(Exception):
    """A failure found by the command layer itself (a bad file, a refused confirmation)."""

    def __init__(self, message: str, exit_code: int = FAILURE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def describe(exc: BaseException, *, base_url: str | None = None) -> tuple[int, str]:
    """The exit code and the one line (without ``error: ``) for an exception."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, CommandError):
        return exc.exit_code, text
    if isinstance(exc, (pa.PlanFileError, pa.PlanChangedError)):
        return INPUT, text
    if isinstance(exc, pa.ConfigurationError):
        return CONFIG, text
    if isinstance(exc, pa.AuthenticationError):
        return AUTH, f"the API refused the token: check PROLIFIC_TOKEN ({text})"
    if isinstance(exc, pa.PermissionDeniedError):
        return AUTH, f"the token may not do this: {text}"
    if isinstance(exc, pa.NotFoundError):
        return NOT_FOUND, text
    if isinstance(exc, pa.OutcomeUnknownError):
        return NETWORK, text  # says itself what may have happened and what to check
    if isinstance(exc, pa.APIConnectionError):
        where = f" at {base_url}" if base_url else ""
        return NETWORK, f"could not reach the API{where}: {text}"
    if isinstance(exc, (pa.ResourceFailed, pa.PollTimeout)):
        return JOB_FAILED, text
    if isinstance(exc, pa.ProlificError):
        return FAILURE, text
    if isinstance(exc, FileNotFoundError):
        return INPUT, f"no such file: {exc.filename}" if exc.filename else text
    if isinstance(exc, IsADirectoryError):
        return INPUT, f"a folder, not a file: {exc.filename or text}"
    if isinstance(exc, PermissionError):
        return INPUT, f"cannot read or write {exc.filename or text}"
    if isinstance(exc, json.JSONDecodeError):
        return INPUT, f"not valid JSON: {text}"
    if isinstance(exc, ValueError):
        # The SDK checks ids and arguments before sending anything.
        return USAGE, text
    return FAILURE, f"unexpected {type(exc).__name__}: {text} (--debug shows the traceback)"
