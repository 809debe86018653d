"""Timing calls: wall clock on the CPU, CUDA events on the GPU, and the
median the tables report."""

import statistics
import time
from collections.abc import Callable, Sequence


def time_calls(
    fn: Callable[[], object], repeats: int = 3, warmup: int = 1
) -> list[float]:
    """Wall-clock seconds of ``repeats`` calls of fn after ``warmup`` calls.

    Arguments
    ---------
    fn : callable
        The work.
    repeats : int
        Timed calls.
    warmup : int
        Untimed calls first.

    Returns
    -------
    list of float
        Seconds of each timed call.

    Example
    -------
    >>> times = time_calls(lambda: sum(range(1000)), repeats=2)
    >>> len(times), all(t > 0 for t in times)
    (2, True)
    """
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def time_calls_cuda(
    fn: Callable[[], object], repeats: int = 3, warmup: int = 1
) -> list[float]:
    """GPU seconds of ``repeats`` calls of fn after ``warmup`` calls.

    Each call is timed with a pair of CUDA events recorded on the current
    stream around it, so the time is the GPU's, not the host's launch time.

    Arguments
    ---------
    fn : callable
        Launches the work on the current CUDA device.
    repeats : int
        Timed calls.
    warmup : int
        Untimed calls first.

    Returns
    -------
    list of float
        Seconds of each timed call.
    """
    import torch

    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)  # ms -> s
    return times


def median(values: Sequence[float]) -> float:
    """Median of values."""
    return statistics.median(values)
