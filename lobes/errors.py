"""Errors in one line, for every command line of the package (the recipes'
``train.py``, ``python -m lobes.separate``, ``python -m lobes.export``):
`brief` (any exception in one line), `CommandError` (a message and an exit
status) and `report_errors` (the one line, or the traceback under
``--debug`` or ``LOBES_DEBUG=1``, `debug_wanted`; Ctrl-C, and SIGTERM with
`interrupt_on_terminate`, one line too). Imports only the
standard library: ``--help`` stays fast.

Authors
 * sepformer-lobes contributors 2026
"""

import os
import signal
import sys
from collections.abc import Callable

USAGE = 2  # exit status of a command line that cannot work
FAILURE = 1  # exit status of a command that failed
INTERRUPTED = 130  # exit status of a command stopped by Ctrl-C or SIGTERM
DEBUG_VARIABLE = "LOBES_DEBUG"  # =1: tracebacks instead of one line
# what a failed allocation says (torch on the CPU and CUDA, ONNX Runtime)
OUT_OF_MEMORY = (
    "out of memory",
    "can't allocate memory",
    "bad_alloc",
    "failed to allocate memory",
)


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
    message, with the next one when the first ends with a colon (torch
    says what went wrong there).

    Arguments
    ---------
    error : BaseException
        Any exception.
    width : int
        Longest message kept (the type aside).

    Returns
    -------
    str

    Example
    -------
    >>> brief(OSError(28, "No space left on device"))
    'OSError: [Errno 28] No space left on device'
    >>> brief(RuntimeError("Error(s) in loading:\\n\\tsize mismatch\\n\\t..."))
    'RuntimeError: Error(s) in loading: size mismatch'
    >>> brief(RuntimeError("boom\\nsecond line"))
    'RuntimeError: boom'
    >>> brief(EOFError())
    'EOFError'
    """
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    kept = 2 if lines and lines[0].endswith(":") else 1
    text = " ".join(lines[:kept])
    if len(text) > width:
        text = text[: width - 3] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def is_out_of_memory(error: BaseException) -> bool:
    """Whether an exception is a failed allocation: a MemoryError, or one
    whose message says so (torch's CPU allocator and CUDA raise a
    RuntimeError, ONNX Runtime its own type).

    Arguments
    ---------
    error : BaseException
        Any exception.

    Returns
    -------
    bool

    Example
    -------
    >>> is_out_of_memory(MemoryError()), is_out_of_memory(ValueError("x"))
    (True, False)
    >>> is_out_of_memory(RuntimeError("[enforce fail at alloc_cpu.cpp:127] "
    ...     "DefaultCPUAllocator: can't allocate memory: you tried to ..."))
    True
    """
    text = str(error).lower()
    return isinstance(error, MemoryError) or any(
        words in text for words in OUT_OF_MEMORY
    )


def interrupt_on_terminate() -> None:
    """Makes SIGTERM stop the program as Ctrl-C does (a KeyboardInterrupt),
    so that what it was writing is cleaned up as for Ctrl-C. For a
    program's entry point only: it replaces the process's handler."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


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
    return flag or os.environ.get(DEBUG_VARIABLE) == "1"


def report_errors(
    prog: str,
    command: Callable[[], int],
    classify: Callable[[Exception], tuple[int, str] | None],
    debug: bool = False,
    unexpected: str = "--debug",
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
        unexpected one.
    debug : bool
        Let every error through (its traceback).
    unexpected : str
        How to get the traceback of an unexpected error: its type and
        message are given with a hint at it (the command's ``--debug``);
        empty: it is let through (a recipe, which its user would otherwise
        run again, for hours, to see it).

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
    >>> def bug():
    ...     raise KeyError("x")
    >>> report_errors("prog", bug, lambda error: None)
    1
    """
    try:
        return command()
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"{prog}: interrupted.", file=sys.stderr)
        return INTERRUPTED
    except CommandError as error:
        if debug:
            raise
        message, status = str(error), error.status
    except Exception as error:
        known = classify(error)
        if debug or (known is None and not unexpected):
            raise
        if known is None:
            hint = f"rerun with {unexpected} for the traceback"
            message = f"{brief(error)} ({hint})."
            status = FAILURE
        else:
            status, message = known
    print(f"{prog}: error: {message}", file=sys.stderr)
    return status
