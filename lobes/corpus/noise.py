"""WHAM!-style noise of the embedded corpus: babble plus coloured noise.

Noise (WHAM! and LibriMix layouts) is babble of 3-5 talkers whose voices
no split uses, plus coloured 1/f^alpha noise (alpha 0..2, white to brown),
half of it amplitude-modulated (0.2-2 Hz) to make it non-stationary. It is
mixed into the speech by :func:`lobes.corpus.mixing.add_noise`.

Authors
 * sepformer-lobes contributors 2026
"""

import math

import numpy as np
import torch

from lobes.corpus.mixing import fit_length, unit_rms


def make_noise(
    length: int,
    sample_rate: int,
    babble_pool: list[tuple[str, np.ndarray]],
    rng: np.random.Generator,
) -> tuple[torch.Tensor, dict]:
    """Babble of 3-5 held-apart talkers plus coloured noise, maybe AM.

    Each talker is rolled by a random offset, cropped or tiled to
    ``length`` and given a level in -3..+3 dB; the babble is set -10..+10
    dB against unit-RMS 1/f^alpha noise (alpha uniform in 0..2). Half of
    the noise is amplitude-modulated (depth 0.3-0.9, 0.2-2 Hz).

    Arguments
    ---------
    length : int
        Samples of the noise.
    sample_rate : int
        Sample rate in Hz, which sets the modulation frequency.
    babble_pool : list of (str, numpy.ndarray)
        Utterance id and float64 samples of each babble utterance; at
        least 5.
    rng : numpy.random.Generator
        Draws talkers, offsets, levels, colour and modulation.

    Returns
    -------
    noise : torch.Tensor
        [length], float64, not level-normalised.
    info : dict
        ``talkers`` (utterance ids), ``babble_db``, ``alpha`` and
        ``modulation`` (None, or ``depth`` and ``hertz``).

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> pool = [(f"abc{i:05d}", rng.standard_normal(500)) for i in range(6)]
    >>> noise, info = make_noise(800, 8000, pool, rng)
    >>> noise.shape, noise.dtype, 3 <= len(info["talkers"]) <= 5
    (torch.Size([800]), torch.float64, True)
    """
    picks = rng.choice(len(babble_pool), size=rng.integers(3, 6), replace=False)
    babble = torch.zeros(length, dtype=torch.float64)
    for i in picks:
        talker = torch.from_numpy(babble_pool[i][1])
        talker = torch.roll(talker, int(rng.integers(talker.shape[-1])))
        level = 10 ** (rng.uniform(-3, 3) / 20)
        babble += unit_rms(fit_length(talker, length, rng), "talker") * level
    alpha = rng.uniform(0, 2)
    babble_db = rng.uniform(-10, 10)  # babble vs coloured noise
    noise = unit_rms(babble, "babble") * 10 ** (babble_db / 20)
    noise = noise + _coloured_noise(length, alpha, rng)
    info = {
        "talkers": [babble_pool[i][0] for i in picks],
        "babble_db": babble_db,
        "alpha": alpha,
        "modulation": None,
    }
    if rng.random() < 0.5:  # non-stationary: slow amplitude modulation
        depth, hertz = rng.uniform(0.3, 0.9), rng.uniform(0.2, 2)
        t = torch.arange(length, dtype=torch.float64) / sample_rate
        phase = rng.uniform(0, 2 * math.pi)
        noise = noise * (1 + depth * torch.sin(2 * math.pi * hertz * t + phase))
        info["modulation"] = {"depth": depth, "hertz": hertz}
    return noise, info


def _coloured_noise(length, alpha, rng):
    """Gaussian noise with a 1/f^alpha power spectrum, unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(length))
    freqs = np.fft.rfftfreq(length)
    freqs[0] = freqs[1]  # keep DC finite
    noise = np.fft.irfft(spectrum * freqs ** (-alpha / 2), n=length)
    return torch.from_numpy(noise / np.sqrt(np.mean(noise**2)))
