"""Mixing maths of the embedded corpus, shared with training's dynamic mixing.

Mixing follows the WSJ0-2Mix scripts (:func:`mix_sources`): sources cropped
to the shorter one ("min"), level-normalised, relative gain ``g`` uniform in
0..5 dB (first source ``+g/2`` dB, second ``-g/2`` dB), and every signal of
a mixture scaled by one factor so the largest peak is 0.9 (as the WSJ0-2Mix
scripts and SpeechBrain's dynamic mixing do). Levels are measured on the
part that is kept, so the drawn gain is the gain in the files.

Noise (WHAM! and LibriMix layouts, :func:`add_noise`) is mixed at an SNR
drawn uniformly in -6..+3 dB relative to the loudest speaker: the range and
reference of WHAM! (Wichern et al., Interspeech 2019), so models see the
difficulty they would on WHAM!. Then all signals are scaled together so
the largest peak is 0.9.

This module needs neither eSpeak NG nor the corpus writer.

Authors
 * sepformer-lobes contributors 2026
"""

import math

import numpy as np
import torch

MAX_GAIN_DB = 5.0  # WSJ0-2Mix: relative gain uniform in 0..5 dB
SNR_RANGE_DB = (-6.0, 3.0)  # WHAM!: noise vs the louder speaker
PEAK = 0.9  # WSJ0-2Mix and SpeechBrain scale every mixture to this peak


def mix_sources(
    sources: list[torch.Tensor], rng: np.random.Generator
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Mixes sources as the WSJ0-2Mix scripts do, in "min" mode.

    Crops every source to the shortest (keeping the start), normalises each
    to unit RMS, applies the relative gain ``g`` ~ U(0, 5) dB as ``+g/2``
    dB to the first source and ``-g/2`` dB to the second (further sources
    get a level in -2.5..+2.5 dB), then scales all of them by one factor so
    the largest peak of mixture and sources is 0.9. Levels are measured on
    the cropped signals, so the drawn gain is the gain of the output.

    Arguments
    ---------
    sources : list of torch.Tensor
        At least two 1-D signals, [time_i].
    rng : numpy.random.Generator
        Draws the gains.

    Returns
    -------
    mixture : torch.Tensor
        [time], float32, exactly ``sum(scaled_sources)``.
    scaled_sources : list of torch.Tensor
        [time] each, float32.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> s1, s2 = torch.randn(800), torch.randn(700)
    >>> mix, (a, b) = mix_sources([s1, s2], rng)
    >>> mix.shape, bool(torch.equal(mix, a + b))
    (torch.Size([700]), True)
    >>> gain = 10 * torch.log10(a.pow(2).mean() / b.pow(2).mean())
    >>> bool(0 <= gain <= 5)
    True
    """
    if len(sources) < 2:
        raise ValueError(f"mix_sources needs 2 or more, got {len(sources)}")
    length = min(s.shape[-1] for s in sources)
    gain = rng.uniform(0, MAX_GAIN_DB)
    levels_db = [gain / 2, -gain / 2] + list(
        rng.uniform(-MAX_GAIN_DB / 2, MAX_GAIN_DB / 2, len(sources) - 2)
    )
    scaled = [
        unit_rms(s[..., :length].double(), f"source {i}") * 10 ** (level / 20)
        for i, (s, level) in enumerate(zip(sources, levels_db, strict=True))
    ]
    scale = PEAK / peak([sum(scaled), *scaled])
    scaled = [(s * scale).float() for s in scaled]
    return sum(scaled), scaled


def add_noise(
    mixture: torch.Tensor,
    sources: list[torch.Tensor],
    noise: torch.Tensor,
    rng: np.random.Generator,
) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """Adds noise at a WHAM!-style SNR and rescales against clipping.

    The noise is cropped at a random offset (or tiled) to the mixture's
    length and scaled to an SNR ~ U(-6, 3) dB relative to the louder
    source, as in WHAM!. Then mixture, noise and sources are scaled by one
    factor so the largest peak of all is 0.9. ``mixture`` is passed apart
    from ``sources`` so a mixture that is not their plain sum (e.g.
    reverberant) works too.

    Arguments
    ---------
    mixture : torch.Tensor
        [time], the clean mixture.
    sources : list of torch.Tensor
        [time] each, the targets the SNR refers to.
    noise : torch.Tensor
        [noise_time], any length.
    rng : numpy.random.Generator
        Draws the SNR and the crop offset.

    Returns
    -------
    noisy_mixture : torch.Tensor
        [time], float32, ``f * mixture + scaled_noise``.
    scaled_noise : torch.Tensor
        [time], float32.
    scaled_sources : list of torch.Tensor
        [time] each, float32, the sources times the same factor ``f``.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> mix, sources = mix_sources([torch.randn(800), torch.randn(900)], rng)
    >>> noisy, noise, (a, b) = add_noise(mix, sources, torch.randn(300), rng)
    >>> noisy.shape == noise.shape == a.shape
    True
    >>> snr = 10 * torch.log10(a.pow(2).mean() / noise.pow(2).mean())
    >>> bool(-6 <= snr <= 3)
    True
    """
    length = mixture.shape[-1]
    if any(s.shape[-1] != length for s in sources):
        raise ValueError("add_noise: sources must be as long as the mixture")
    noise = unit_rms(fit_length(noise.double(), length, rng), "noise")
    snr = rng.uniform(*SNR_RANGE_DB)
    loudest = max(s.double().pow(2).mean() for s in sources)
    noise = noise * torch.sqrt(loudest / 10 ** (snr / 10))
    mixture, sources = mixture.double(), [s.double() for s in sources]
    scale = PEAK / peak([mixture + noise, mixture, noise, *sources])
    noise = (noise * scale).float()
    noisy = (mixture * scale).float() + noise
    return noisy, noise, [(s * scale).float() for s in sources]


def unit_rms(signal: torch.Tensor, name: str) -> torch.Tensor:
    """Scales ``signal`` to unit RMS.

    Arguments
    ---------
    signal : torch.Tensor
        [time].
    name : str
        What the signal is, for the error raised when it is silent.

    Returns
    -------
    torch.Tensor
        [time], ``signal`` divided by its RMS.

    Example
    -------
    >>> unit_rms(torch.tensor([2.0, -2.0]), "source 0")
    tensor([ 1., -1.])
    >>> unit_rms(torch.zeros(3), "noise")
    Traceback (most recent call last):
    ...
    ValueError: noise is silent; cannot normalise its level
    """
    mean_power = signal.pow(2).mean()
    if not mean_power > 0:
        raise ValueError(f"{name} is silent; cannot normalise its level")
    return signal / mean_power.sqrt()


def peak(signals: list[torch.Tensor]) -> float:
    """Returns the largest absolute sample of all ``signals``.

    Arguments
    ---------
    signals : list of torch.Tensor
        Signals of any shape.

    Returns
    -------
    float

    Example
    -------
    >>> peak([torch.tensor([0.5, -0.25]), torch.tensor([-0.75])])
    0.75
    """
    return max(s.abs().max().item() for s in signals)


def fit_length(
    signal: torch.Tensor, length: int, rng: np.random.Generator
) -> torch.Tensor:
    """Crops at a random offset, or tiles, ``signal`` to ``length``.

    Arguments
    ---------
    signal : torch.Tensor
        [time], any length.
    length : int
        Length of the result.
    rng : numpy.random.Generator
        Draws the crop offset (not used when tiling).

    Returns
    -------
    torch.Tensor
        [length].

    Example
    -------
    >>> fit_length(torch.arange(3), 7, np.random.default_rng(0))
    tensor([0, 1, 2, 0, 1, 2, 0])
    >>> fit_length(torch.arange(10), 4, np.random.default_rng(0)).shape
    torch.Size([4])
    """
    if signal.shape[-1] > length:
        start = int(rng.integers(0, signal.shape[-1] - length + 1))
        return signal[..., start : start + length]
    repeats = math.ceil(length / signal.shape[-1])
    return signal.repeat(repeats)[..., :length]


def power(signal: torch.Tensor) -> float:
    """Returns the mean power of ``signal``, computed in float64.

    Arguments
    ---------
    signal : torch.Tensor
        Any shape.

    Returns
    -------
    float

    Example
    -------
    >>> power(torch.tensor([1.0, -3.0]))
    5.0
    """
    return signal.double().pow(2).mean().item()


def db(signal: torch.Tensor, reference: torch.Tensor) -> float:
    """Returns the level of ``signal`` relative to ``reference`` in dB.

    Arguments
    ---------
    signal : torch.Tensor
        Any shape.
    reference : torch.Tensor
        Any shape.

    Returns
    -------
    float
        ``10 log10(power(signal) / power(reference))``.

    Example
    -------
    >>> round(db(torch.full((4,), 10.0), torch.ones(4)), 6)
    20.0
    """
    return 10 * math.log10(power(signal) / power(reference))
