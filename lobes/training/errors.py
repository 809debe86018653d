"""The errors a recipe run reports in one line (see
`lobes.training.recipe.run_recipe`; an exception's own line:
`lobes.errors.brief`): each message names the file or option, the problem
and what to do.

Authors
 * sepformer-lobes contributors 2026
"""


class UsageError(ValueError):
    """A command line that cannot work (exit status 2)."""


class DataError(ValueError):
    """A data file or CSV that training cannot use (exit status 1)."""


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be saved or loaded (exit status 1)."""
