"""Tiny separation corpora in the real WSJ0-2Mix and WHAM! layouts.

Fast stand-ins for ``python -m lobes.synthmix`` (no eSpeak): each speaker is
a harmonic tone with its own fundamental frequency, so a test can tell from a
signal which speaker it came from.
"""

from pathlib import Path

import numpy as np
import soundfile as sf

SPLITS = ("tr", "cv", "tt")


def speaker_f0(speaker: int) -> float:
    """Fundamental frequency (Hz) of tiny-corpus speaker number ``speaker``."""
    return 150.0 + 110.0 * speaker


def utterance(
    speaker: int, frames: int, rng: np.random.Generator, sample_rate: int
) -> np.ndarray:
    """A harmonic tone at the speaker's f0 with a slow random envelope."""
    t = np.arange(frames) / sample_rate
    f0 = speaker_f0(speaker)
    tone = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in (1, 2, 3))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(1, 3) * t) ** 2
    return (0.2 * envelope * tone).astype(np.float32)


def write_corpus(
    root: Path,
    layout: str = "wsj0-2mix",
    n_mixtures: tuple[int, int, int] = (4, 2, 2),
    n_speakers: int = 4,
    utts_per_speaker: int = 3,
    seconds: tuple[float, float] = (0.5, 0.8),
    sample_rate: int = 8000,
    seed: int = 0,
) -> Path:
    """Write a tiny corpus under ``root`` and return ``root``.

    Mixtures go to ``wav8k/min/{tr,cv,tt}/{mix,s1,s2}`` (wsj0-2mix) or
    ``.../{mix_both,mix_clean,s1,s2,noise}`` (wham); clean utterances for
    dynamic mixing to ``clean/{tr,cv,tt}/SPK/SPKnnnnn.wav`` with a 3-char
    speaker id, as in WSJ0. Speakers ``0..n_speakers-1`` are shared by all
    splits (enough for tests).
    """
    rng = np.random.default_rng(seed)
    mix_root = root / f"wav{sample_rate // 1000}k" / "min"
    for split, count in zip(SPLITS, n_mixtures, strict=True):
        for spk in range(n_speakers):
            folder = root / "clean" / split / f"s{spk:02d}"
            folder.mkdir(parents=True, exist_ok=True)
            for u in range(utts_per_speaker):
                frames = int(rng.uniform(*seconds) * sample_rate)
                sf.write(
                    folder / f"s{spk:02d}{u:05d}.wav",
                    utterance(spk, frames, rng, sample_rate),
                    sample_rate,
                )
        for i in range(count):
            frames = int(rng.uniform(*seconds) * sample_rate)
            a, b = rng.choice(n_speakers, size=2, replace=False)
            s1 = utterance(a, frames, rng, sample_rate)
            s2 = utterance(b, frames, rng, sample_rate) * rng.uniform(0.5, 1)
            signals = {"s1": s1, "s2": s2, "mix": s1 + s2}
            if layout == "wham":
                noise = 0.05 * rng.standard_normal(frames).astype(np.float32)
                signals["mix_clean"] = signals.pop("mix")
                signals["noise"] = noise
                signals["mix_both"] = s1 + s2 + noise
            name = f"s{a:02d}a{i:03d}_0.0_s{b:02d}b{i:03d}_0.0.wav"
            for folder, signal in signals.items():
                (mix_root / split / folder).mkdir(parents=True, exist_ok=True)
                sf.write(mix_root / split / folder / name, signal, sample_rate)
    return root
