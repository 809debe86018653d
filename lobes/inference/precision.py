"""Inference precision: SpeechBrain's ``precision`` values (``fp32``,
``bf16``, ``fp16``) for separating with a torch model.

``bf16`` and ``fp16`` run the model under ``torch.autocast`` on its device,
as SpeechBrain's ``Brain`` does with ``--precision`` (matrix products,
convolutions and attention in the low precision, reductions and norms as
autocast decides); the separated signals come back as float32. `autocast`
gives the context, `check_precision` says in one line when the device
cannot run a precision.

Where it pays: bf16 on CPUs with AVX-512 BF16 or AMX units (about 4x the
fp32 matrix-product rate) and on GPUs from Ampere on (bf16 and fp16);
elsewhere the low precision is emulated and slower than fp32.

Authors
 * sepformer-lobes contributors 2026
"""

from __future__ import annotations

from functools import cache

import torch
from speechbrain.utils.autocast import AMPConfig, TorchAutocast

from lobes.errors import brief
from lobes.inference.defaults import PRECISIONS


def precision_dtype(precision: str) -> torch.dtype:
    """The torch dtype of one of SpeechBrain's precision names.

    Arguments
    ---------
    precision : str
        ``fp32``, ``bf16`` or ``fp16``.

    Returns
    -------
    torch.dtype

    Example
    -------
    >>> precision_dtype("bf16")
    torch.bfloat16
    """
    if precision not in PRECISIONS:
        raise ValueError(
            f"precision={precision!r}: choose one of {', '.join(PRECISIONS)}."
        )
    return AMPConfig.from_name(precision).dtype


@cache
def _autocast_problem(device_type: str, dtype: torch.dtype) -> str | None:
    """Why ``torch.autocast(device_type, dtype)`` does not run matrix
    products in ``dtype`` here (a probe, once per pair), or None."""
    try:
        with torch.autocast(device_type, dtype=dtype):
            x = torch.ones(2, 2, device=device_type)
            out = torch.mm(x, x)
    except (RuntimeError, ValueError) as error:
        return brief(error)
    if out.dtype != dtype:  # older torch: a warning, and autocast disabled
        return f"torch {torch.__version__} has no {dtype} autocast there"
    return None


def check_precision(precision: str, device: str | torch.device) -> None:
    """Raises a one-line ValueError unless models on ``device`` can run in
    ``precision`` (``fp16`` on CPU needs a torch whose CPU autocast takes
    float16; ``bf16`` on CUDA needs a GPU with bf16 units).

    Arguments
    ---------
    precision : str
        ``fp32``, ``bf16`` or ``fp16``.
    device : str or torch.device
        Where the model runs.

    Example
    -------
    >>> check_precision("bf16", "cpu")
    >>> check_precision("fp64", "cpu")
    Traceback (most recent call last):
    ...
    ValueError: precision='fp64': choose one of fp32, bf16, fp16.
    """
    dtype = precision_dtype(precision)
    if dtype == torch.float32:
        return
    device_type = torch.device(device).type
    problem = _autocast_problem(device_type, dtype)
    if problem is not None:
        raise ValueError(
            f"precision={precision} cannot run on {device_type} ({problem}); "
            "use precision=fp32" + (" or bf16." if precision == "fp16" else ".")
        )


def autocast(precision: str, device: str | torch.device) -> TorchAutocast:
    """The context that runs a model on ``device`` in ``precision``:
    ``torch.autocast`` with its dtype (SpeechBrain's ``TorchAutocast``, a
    no-op for fp32).

    Arguments
    ---------
    precision : str
        ``fp32``, ``bf16`` or ``fp16``.
    device : str or torch.device
        Where the model runs.

    Returns
    -------
    context manager

    Example
    -------
    >>> with autocast("bf16", "cpu"):
    ...     y = torch.nn.Linear(4, 4)(torch.randn(2, 4))
    >>> y.dtype
    torch.bfloat16
    """
    return TorchAutocast(
        device_type=torch.device(device).type, dtype=precision_dtype(precision)
    )
