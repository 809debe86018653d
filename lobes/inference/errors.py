"""Errors as one line for the command lines: `CommandError` (a message and
an exit status), `brief` (any exception in one line) and `report_errors`
(the one line, or the traceback under ``--debug`` or ``LOBES_DEBUG=1``).
Imports nothing heavy: ``--help`` stays fast.

Authors
 * sepformer-lobes contributors 2026
"""

import logging
import os
import sys
from collections.abc import Callable

USAGE = 2  # exit status of a command line that cannot work
FAILURE = 1  # exit status of a command that failed

logger = logging.getLogger(__name__)


class CommandError(Exception):
    """A command that cannot go on: the message (the file, the problem, what
    to do) and the exit status.

    Arguments
    ---------
    message : str
        One line.
    status : int
        `USAGE` (the default) or `FAILURE`.

    Example
    -------
    >>> CommandError("x.wav: not found.", FAILURE).status
    1
    """

    def __init__(self, message: str, status: int = USAGE):
        super().__init__(message)
        self.status = status


def brief(error: BaseException, width: int = 100) -> str:
    """An exception in one short line: its type and the first line of its
    message.

    Arguments
    ---------
    error : BaseException
        Any exception.
    width : int
        Longest message kept.

    Returns
    -------
    str

    Example
    -------
    >>> brief(OSError(22, "Invalid argument"))
    'OSError: [Errno 22] Invalid argument'
    >>> brief(EOFError())
    'EOFError'
    """
    lines = str(error).strip().splitlines()
    text = lines[0] if lines else ""
    if len(text) > width:
        text = text[: width - 3] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def debug_wanted(flag: bool = False) -> bool:
    """Whether tracebacks are wanted: ``--debug`` or ``LOBES_DEBUG=1``.

    Arguments
    ---------
    flag : bool
        The command's ``--debug``.

    Returns
    -------
    bool
    """
    return flag or os.environ.get("LOBES_DEBUG") == "1"


def report_errors(
    prog: str,
    command: Callable[[], int],
    classify: Callable[[Exception], tuple[int, str] | None],
    debug: bool = False,
) -> int:
    """Runs a command; an error it raises becomes one line on stderr and an
    exit status (with ``debug``, the traceback instead).

    Arguments
    ---------
    prog : str
        The program, e.g. ``python -m lobes.separate``.
    command : callable
        Runs the command, returns its exit status.
    classify : callable
        The exit status and the line of an expected error, or None for an
        unexpected one (its type and message are given, with a hint at
        ``--debug``).
    debug : bool
        Let the error through (its traceback).

    Returns
    -------
    int
        The exit status.

    Example
    -------
    >>> def fails():
    ...     raise CommandError("--out x is a file.")
    >>> report_errors("prog", fails, lambda error: None)
    2
    """
    try:
        return command()
    except CommandError as error:
        if debug:
            raise
        message, status = str(error), error.status
    except Exception as error:
        if debug:
            raise
        known = classify(error)
        if known is None:
            message = f"{brief(error)} (rerun with --debug for the traceback)."
            status = FAILURE
        else:
            status, message = known
    print(f"{prog}: error: {message}", file=sys.stderr)
    return status
