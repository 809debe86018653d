"""The machine's matrix-product peak, the yardstick of "near the limit".

`matmul_peak` times large square matrix products (the work a Transformer
is made of, at the best shape there is) in one precision and returns the
best rate seen, in GFLOP/s (2 FLOPs per multiply-add). The suite measures
it in its own run, on the same threads, for fp32 and bf16, and gives each
model's share of the peak of the precision it ran in
(`peak_fraction`): what is left to win, and whether a precision pays on
this machine at all (a CPU without bf16 units has a bf16 peak at or below
its fp32 one).
"""

from __future__ import annotations

import time

import torch

from lobes.inference.precision import precision_dtype


def matmul_peak(
    dtype: str = "fp32",
    device: str = "cpu",
    size: int | None = None,
    seconds: float = 1.0,
) -> float:
    """Best matrix-product rate of this process, in GFLOP/s.

    Arguments
    ---------
    dtype : str
        ``fp32``, ``bf16`` or ``fp16`` (the operands' type: no autocast).
    device : str
        ``cpu`` or ``cuda``.
    size : int, optional
        Side of the square matrices (default: 2048 on the CPU, 8192 on
        CUDA, enough to reach the peak on either).
    seconds : float
        Time spent timing, after one warm-up product.

    Returns
    -------
    float
        2 * size**3 / (fastest product's seconds) / 1e9.

    Example
    -------
    >>> matmul_peak("fp32", size=64, seconds=0.01) > 0
    True
    """
    cuda = device == "cuda"
    size = size or (8192 if cuda else 2048)
    operands = precision_dtype(dtype)
    a = torch.randn(size, size, device=device).to(operands)
    b = torch.randn(size, size, device=device).to(operands)
    out = torch.empty_like(a)

    def product() -> float:
        if cuda:
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            torch.mm(a, b, out=out)
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / 1e3
        start = time.perf_counter()
        torch.mm(a, b, out=out)
        return time.perf_counter() - start

    product()
    best, spent = float("inf"), 0.0
    while spent < seconds or best == float("inf"):
        elapsed = product()
        best, spent = min(best, elapsed), spent + elapsed
    return 2 * size**3 / best / 1e9


def peak_fraction(
    gmacs_per_s: float, seconds: float, time_s: float, peak_gflops: float
) -> float:
    """Share of the matrix-product peak a separation ran at.

    Arguments
    ---------
    gmacs_per_s : float
        The model's GMACs per second of audio.
    seconds : float
        Length of the audio separated.
    time_s : float
        Time the separation took.
    peak_gflops : float
        `matmul_peak` in the precision the separation ran in.

    Returns
    -------
    float
        2 * MACs / time / peak (1.0: the model ran at the peak).

    Example
    -------
    >>> peak_fraction(gmacs_per_s=10.0, seconds=4.0, time_s=1.0,
    ...               peak_gflops=160.0)
    0.5
    """
    return 2 * gmacs_per_s * seconds / time_s / peak_gflops
