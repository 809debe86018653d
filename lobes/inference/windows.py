"""Long recordings in overlapping windows, for masknets whose time and
memory grow faster than linearly with the input (SpeechBrain's SepFormer
``Dual_Path_Model``, its RE-SepFormer ``ResourceEfficientSeparator``), and
to bound the memory of one pass over a very long recording.

Each window's speaker order is matched to what is already separated over
their overlap before the two are cross-faded, so speakers do not swap at
window edges (`separate_windowed`).

Authors
 * sepformer-lobes contributors 2026
"""

import itertools
import math
from collections.abc import Callable

import torch
from torch import Tensor
from tqdm import tqdm


def best_permutation(reference: Tensor, estimate: Tensor) -> list[int]:
    """The speaker order of ``estimate`` closest to ``reference``.

    Arguments
    ---------
    reference : torch.Tensor
        [time, speakers], e.g. what is already separated over an overlap.
    estimate : torch.Tensor
        [time, speakers], the same stretch in a new window.

    Returns
    -------
    list of int
        ``estimate[:, perm]`` minimises the squared error to ``reference``
        (maximises the summed inner products); identity on a tie (silence).

    Example
    -------
    >>> ref = torch.stack([torch.ones(4), torch.zeros(4)], -1)
    >>> best_permutation(ref, ref.flip(-1))
    [1, 0]
    """
    products = (reference.T.double() @ estimate.double()).tolist()  # [S, S]
    speakers = range(len(products))
    best, best_score = list(speakers), -math.inf
    for perm in itertools.permutations(speakers):
        score = sum(products[s][perm[s]] for s in speakers)
        if score > best_score:
            best, best_score = list(perm), score
    return best


def window_starts(length: int, window: int, overlap: int) -> list[int]:
    """Starts of evenly spread windows that cover ``length`` samples with
    at least ``overlap`` samples shared by neighbours.

    Arguments
    ---------
    length : int
        Samples to cover.
    window : int
        Window length.
    overlap : int
        Least overlap, below ``window``.

    Returns
    -------
    list of int

    Example
    -------
    >>> window_starts(100, 40, 10)
    [0, 30, 60]
    >>> window_starts(30, 40, 10)
    [0]
    """
    if length <= window:
        return [0]
    n = 1 + math.ceil((length - window) / (window - overlap))
    return [round(k * (length - window) / (n - 1)) for k in range(n)]


def _ramp(n: int) -> Tensor:
    """Raised-cosine fade-in of n samples, strictly inside (0, 1)."""
    t = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    return (0.5 - 0.5 * torch.cos(math.pi * t)).float()


def separate_windowed(
    mix: Tensor,
    separate_fn: Callable[[Tensor], Tensor],
    window: int,
    overlap: int,
    align: bool = True,
    progress: bool = False,
) -> Tensor:
    """Separates a long recording in overlapping windows.

    Windows are spread evenly with at least ``overlap`` samples shared by
    neighbours. Before a window is added, its speaker order is matched to
    the separation so far over their overlap (`best_permutation`): a
    separator's output order is arbitrary in every window, and without this
    the speakers swap at window edges. Neighbours are cross-faded with
    complementary raised-cosine ramps over their whole overlap (at most
    half a window; the weights are normalised, so the gain stays one).

    Arguments
    ---------
    mix : torch.Tensor
        [time], the mixture.
    separate_fn : callable
        Separates a window [time] into [time, speakers].
    window : int
        Window length in samples.
    overlap : int
        Least overlap in samples, at most half a window.
    align : bool
        Match speaker orders (False only to show what goes wrong).
    progress : bool
        Show a progress bar over the windows.

    Returns
    -------
    torch.Tensor
        [time, speakers]

    Example
    -------
    >>> def unordered(x):  # a separator whose order depends on the window
    ...     est = torch.stack([x, 2 * x], -1)
    ...     return est.flip(-1) if x[0] > 0 else est
    >>> mix = torch.linspace(-1, 1, 1000)
    >>> out = separate_windowed(mix, unordered, window=300, overlap=100)
    >>> torch.allclose(2 * out[:, 0], out[:, 1])  # one order throughout
    True
    """
    if not 0 < overlap <= window // 2:
        raise ValueError(
            f"overlap={overlap} samples must be positive and at most half "
            f"the window ({window} samples)."
        )
    T = mix.shape[0]
    starts = window_starts(T, window, overlap)
    out = weights = None
    for k, start in enumerate(
        tqdm(starts, desc="windows", disable=not progress)
    ):
        end = min(start + window, T)
        est = separate_fn(mix[start:end]).float().cpu()  # [t, S]
        if out is None:
            out = est.new_zeros(T, est.shape[1])
            weights = est.new_zeros(T)
        w = torch.ones(end - start)
        if k > 0:
            shared = starts[k - 1] + window - start  # overlap with previous
            if align:
                done = slice(start, start + shared)
                so_far = out[done] / weights[done, None]
                est = est[:, best_permutation(so_far, est[:shared])]
            r = min(shared, window // 2)
            w[:r] = _ramp(r)
        if k + 1 < len(starts):
            r = min(start + window - starts[k + 1], window // 2)
            w[-r:] = torch.minimum(w[-r:], _ramp(r).flip(0))
        out[start:end] += w[:, None] * est
        weights[start:end] += w
    return out / weights[:, None]
