"""What the values of the recipes' and the models' options must be:
`OPTIONS`, each option's type and range by name (at any depth of the
overrides: ``--batch_size`` and ``--dataloader_opts={batch_size: ...}``),
which `lobes.training.overrides.check_overrides` checks before a recipe
runs. Yes/no options take YAML's True or False only.

Authors
 * sepformer-lobes contributors 2026
"""

from collections.abc import Callable
from typing import NamedTuple


class Expected(NamedTuple):
    """What the value of an option must be.

    Arguments
    ---------
    what : str
        As a message says it, e.g. ``an integer >= 1``.
    accepts : callable
        Whether a value (as YAML reads it) is one.
    """

    what: str
    accepts: Callable[[object], bool]


def _number(value: object) -> bool:
    """Whether ``value`` is an int or float (not a bool, not NaN)."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and value == value
    )


def integer(low: int | None = None) -> Expected:
    """An integer (``3``, not ``3.0``), at least ``low``.

    Arguments
    ---------
    low : int, optional
        The least value allowed.

    Returns
    -------
    Expected

    Example
    -------
    >>> count = integer(1)
    >>> count.what, count.accepts(2), count.accepts(0), count.accepts("2")
    ('an integer >= 1', True, False, False)
    """
    return Expected(
        "an integer" + ("" if low is None else f" >= {low}"),
        lambda v: (
            isinstance(v, int)
            and not isinstance(v, bool)
            and (low is None or v >= low)
        ),
    )


def number(low: float | None = None, high: float | None = None) -> Expected:
    """A number (an integer or a float), from ``low`` to ``high``.

    Arguments
    ---------
    low, high : float, optional
        The least and the greatest value allowed.

    Returns
    -------
    Expected

    Example
    -------
    >>> share = number(0, 1)
    >>> share.what, share.accepts(0.5), share.accepts(2), share.accepts(True)
    ('a number from 0 to 1', True, False, False)
    """
    what = "a number"
    if low is not None and high is not None:
        what += f" from {low} to {high}"
    elif low is not None:
        what += f" >= {low}"
    return Expected(
        what,
        lambda v: (
            _number(v)
            and (low is None or v >= low)
            and (high is None or v <= high)
        ),
    )


BOOLEAN = Expected("True or False", lambda v: isinstance(v, bool))
POSITIVE = Expected("a number > 0", lambda v: _number(v) and v > 0)
PATH = Expected("a path", lambda v: isinstance(v, str) and bool(v.strip()))
COUNT = integer(1)
# The recipes' and the models' options whose values are checked, by name
# at any depth (--batch_size and --dataloader_opts={batch_size: ...}).
# The run options of SpeechBrain (--device, --precision, --noprogressbar,
# --ckpt_interval_minutes, ...) are checked by its own parser.
OPTIONS: dict[str, Expected] = {
    **dict.fromkeys(
        (
            "skip_prep",
            "dynamic_mixing",
            "use_wham_noise",
            "use_wavedrop",
            "use_speedperturb",
            "use_rand_shift",
            "limit_training_signal_len",
            "threshold_byloss",
            "save_audio",
            "shuffle",
            "drop_last",
            "pin_memory",
            "causal",
            "long_pass",
            "tied_repeats",
        ),
        BOOLEAN,
    ),
    **dict.fromkeys(
        (
            "N_epochs",
            "batch_size",
            "sample_rate",
            "num_spks",
            "training_signal_len",
            "drop_chunk_length_low",
            "drop_chunk_length_high",
            # the models'
            "N_encoder_out",
            "kernel_size",
            "kernel_stride",
            "chunk_size",
            "num_blocks",
            "intra_layers",
            "inter_layers",
            "memory_layers",
            "num_layers",
            "num_repeats",
            "nhead",
            "d_ffn",
            "window_size",
            "fsmn_hidden",
            "fsmn_kernel_size",
            "fsmn_depth",
            "byte_channels",
            "num_latents",
            "latent_dim",
            "attention_dim",
            "latent_d_ffn",
            "num_global_latents",
            "global_dim",
            "global_d_ffn",
        ),
        COUNT,
    ),
    **dict.fromkeys(
        (
            "seed",
            "num_workers",
            "n_audio_to_save",
            "drop_freq_count_low",
            "drop_freq_count_high",
            "drop_chunk_count_low",
            "drop_chunk_count_high",
        ),
        integer(0),
    ),
    **dict.fromkeys(("min_shift", "max_shift"), integer()),
    **dict.fromkeys(("lr", "drop_freq_width"), POSITIVE),
    **dict.fromkeys(
        ("clip_grad_norm", "threshold", "loss_upper_lim"), number()
    ),
    **dict.fromkeys(
        ("dropout", "drop_freq_low", "drop_freq_high"), number(0, 1)
    ),
    **dict.fromkeys(
        (
            "data_folder",
            "base_folder_dm",
            "train_data",
            "valid_data",
            "test_data",
            "train_log",
            "experiment_name",
        ),
        PATH,
    ),
    "test_real_data": Expected(
        "a path, or nothing for none", lambda v: v is None or isinstance(v, str)
    ),
    "speed_changes": Expected(
        "a list of percentages (integers >= 1), e.g. [95, 100, 105]",
        lambda v: (
            isinstance(v, list) and bool(v) and all(map(COUNT.accepts, v))
        ),
    ),
}
