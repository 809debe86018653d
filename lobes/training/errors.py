"""The errors a recipe run reports in one line (see
`lobes.training.recipe.run_recipe`): each message names the file or
option, the problem and what to do.

Authors
 * sepformer-lobes contributors 2026
"""


class UsageError(ValueError):
    """A command line that cannot work (exit status 2)."""


class DataError(ValueError):
    """A data file or CSV that training cannot use (exit status 1)."""


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be saved or loaded (exit status 1)."""


def reason(error: BaseException) -> str:
    """The first line of an error, with its type when the message alone
    would not say what happened.

    Arguments
    ---------
    error : BaseException
        Any error.

    Returns
    -------
    str

    Example
    -------
    >>> import errno
    >>> reason(OSError(errno.ENOSPC, "No space left on device"))
    '[Errno 28] No space left on device'
    >>> reason(RuntimeError("Error(s) in loading:\\n\\tsize mismatch"))
    'Error(s) in loading: size mismatch'
    """
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    return " ".join(lines[:2]) + (" ..." if len(lines) > 2 else "")
