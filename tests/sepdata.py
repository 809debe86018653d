"""Tiny separation corpora in the real WSJ0-2Mix, WHAM! and LibriMix
layouts (2 or 3 speakers).

Fast stand-ins for ``python -m lobes.synthmix`` (no eSpeak): each speaker is
a harmonic tone with its own fundamental frequency, so a test can tell from a
signal which speaker it came from.
"""

from pathlib import Path

import numpy as np
import soundfile as sf

SPLITS = {  # layout: the split folders, as the real corpora name them
    "wsj0-2mix": ("tr", "cv", "tt"),
    "wham": ("tr", "cv", "tt"),
    "librimix": ("train-360", "dev", "test"),
}


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


def clean_path(root: Path, layout: str, split: str, spk: int, u: int) -> Path:
    """Where a clean utterance goes: WSJ0's ``SPK/SPKnnnnn.wav`` (speaker =
    first 3 characters) or LibriSpeech's ``SPK/CHAPTER/SPK-CHAPTER-nnnn.wav``
    (speaker = the folder two levels up)."""
    folder = root / "clean" / split / f"s{spk:02d}"
    if layout == "librimix":
        return folder / "1" / f"s{spk:02d}-1-{u:04d}.wav"
    return folder / f"s{spk:02d}{u:05d}.wav"


def write_corpus(
    root: Path,
    layout: str = "wsj0-2mix",
    n_mixtures: tuple[int, int, int] = (4, 2, 2),
    n_speakers: int = 4,
    utts_per_speaker: int = 3,
    seconds: tuple[float, float] = (0.5, 0.8),
    sample_rate: int = 8000,
    seed: int = 0,
    num_spks: int = 2,
) -> Path:
    """Write a tiny corpus under ``root`` and return ``root``.

    Mixtures of ``num_spks`` speakers go to
    ``wav8k/min/{tr,cv,tt}/{mix,s1,s2[,s3]}`` (wsj0-2mix),
    ``.../{mix_both,mix_clean,s1,s2[,s3],noise}`` (wham) or
    ``wav8k/min/{train-360,dev,test}/{mix_clean,mix_both,s1,s2[,s3],noise}``
    (librimix; ``wav16k`` at 16 kHz); clean utterances for dynamic mixing to
    ``clean/<split>/`` (see `clean_path`). Speakers ``0..n_speakers-1`` are
    shared by all splits (enough for tests).
    """
    rng = np.random.default_rng(seed)
    mix_root = root / f"wav{sample_rate // 1000}k" / "min"
    for split, count in zip(SPLITS[layout], n_mixtures, strict=True):
        for spk in range(n_speakers):
            for u in range(utts_per_speaker):
                frames = int(rng.uniform(*seconds) * sample_rate)
                path = clean_path(root, layout, split, spk, u)
                path.parent.mkdir(parents=True, exist_ok=True)
                sf.write(
                    path, utterance(spk, frames, rng, sample_rate), sample_rate
                )
        for i in range(count):
            frames = int(rng.uniform(*seconds) * sample_rate)
            speakers = rng.choice(n_speakers, size=num_spks, replace=False)
            sources = [utterance(speakers[0], frames, rng, sample_rate)]
            sources += [  # the others a little quieter
                utterance(spk, frames, rng, sample_rate) * rng.uniform(0.5, 1)
                for spk in speakers[1:]
            ]
            signals = {f"s{k + 1}": s for k, s in enumerate(sources)}
            clean = sum(sources)
            if layout == "wsj0-2mix":
                signals["mix"] = clean
            else:
                noise = 0.05 * rng.standard_normal(frames).astype(np.float32)
                signals.update(mix_clean=clean, noise=noise)
                signals["mix_both"] = clean + noise
            name = "_".join(
                f"s{spk:02d}{'abc'[k]}{i:03d}_0.0"
                for k, spk in enumerate(speakers)
            )
            for folder, signal in signals.items():
                (mix_root / split / folder).mkdir(parents=True, exist_ok=True)
                sf.write(
                    mix_root / split / folder / f"{name}.wav",
                    signal,
                    sample_rate,
                )
    return root
