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


# Fake packages of real voices (lobes.corpus.voice_catalogue), for tests
# that must not fetch anything: the catalogue's folder layout, each voice a
# harmonic tone of its own f0 in bursts with pauses, at the packages' rates.
MINOR = "zzz"  # the voice id of the minor character's tone
VOICE_RATES = {  # package name prefix: (sample rate, channels, format)
    "fillets": (22050, 2, "OGG"),
    "asterisk": (8000, 1, "WAV"),  # RAW GSM 6.10 for .gsm prompts
    "klettres": (44100, 1, "OGG"),
    "tuxpaint": (44100, 1, "OGG"),
}


def voice_f0(voice_id: str) -> float:
    """Fundamental frequency (Hz) of a fake real voice: 9 Hz apart in
    catalogue order from 110 Hz; the minor character's, 90 Hz (below
    them all)."""
    from lobes.corpus.voice_catalogue import VOICES

    ids = [v.id for v in VOICES]
    return 90.0 if voice_id == MINOR else 110.0 + 9 * ids.index(voice_id)


def voice_recording(
    voice_id: str, rng: np.random.Generator, sample_rate: int
) -> np.ndarray:
    """0.4 s of silence, 2-3 bursts of the voice's tone (0.3-0.9 s, 0.1 s
    apart, or 0.8 s apart), 0.4 s of silence; float32 in -1..1."""
    t = np.arange(int(rng.uniform(0.3, 0.9) * sample_rate)) / sample_rate
    f0 = voice_f0(voice_id)
    parts = [np.zeros(int(0.4 * sample_rate))]
    for _ in range(int(rng.integers(2, 4))):
        tone = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in (1, 2, 3))
        gap = 0.1 if rng.random() < 0.5 else 0.8
        parts += [0.3 * tone, np.zeros(int(gap * sample_rate))]
    parts.append(np.zeros(int(0.4 * sample_rate)))
    return np.concatenate(parts).astype(np.float32)


def voice_file(voice, index: int) -> str:
    """A recording's path in its package, from the catalogue's glob."""
    folder = voice.glob.split("*")[0]
    if "fillets" in voice.package:  # <level>/<lang>/<level>-<who>-<line>
        level = f"lvl{index % 2}"
        name = f"{level}{voice.name_prefix}w{index}.ogg"
        return f"{folder}{level}/{voice.language}/{name}"
    if "klettres" in voice.package:  # <lang>/alpha/<letter>.ogg
        return f"{folder}{voice.language}/alpha/L{index}.ogg"
    # asterisk: <voice>/<prompt>.wav or .gsm; tux paint: <stamp>_desc_<lang>
    return voice.glob.replace("**/", "").replace("*", f"p{index}")


def few_voices(klettres: int = 2) -> list:
    """The catalogue's voices but all KLettres speakers except
    ``klettres`` of them (fewer files to write)."""
    from lobes.corpus.voice_catalogue import VOICES

    others = [v for v in VOICES if v.package != "klettres-data"]
    return (
        others + [v for v in VOICES if v.package == "klettres-data"][:klettres]
    )


def write_voice_packages(
    root: Path, voices=None, files_per_voice: int = 4, seed: int = 0
) -> Path:
    """Writes fake unpacked packages of ``voices`` (default: `few_voices`)
    under ``root/<package>/``, each with a copyright file, plus files of a
    minor Fish Fillets character (``-0-``) that no voice owns. Returns
    ``root`` (for ``--real-voices``)."""
    from lobes.corpus.voice_catalogue import PACKAGES

    rng = np.random.default_rng(seed)
    for voice in few_voices() if voices is None else voices:
        package = root / voice.package
        rate, channels, kind = VOICE_RATES[voice.package.split("-")[0]]
        for i in range(files_per_voice):
            path = package / voice_file(voice, i)
            path.parent.mkdir(parents=True, exist_ok=True)
            audio = voice_recording(voice.id, rng, rate)
            if channels == 2:
                audio = np.stack([audio, audio], axis=1)
            if path.suffix == ".gsm":  # Asterisk's raw GSM 6.10 prompts
                sf.write(path, audio, rate, format="RAW", subtype="GSM610")
            else:
                sf.write(path, audio, rate, format=kind)
        doc = package / PACKAGES[voice.package].doc
        doc.parent.mkdir(parents=True, exist_ok=True)
        doc.write_text(f"fake copyright of {voice.package}\n")
        if "fillets" in voice.package:  # a minor character
            path = package / voice_file(voice, 0)
            minor = path.with_name(path.name.replace(voice.name_prefix, "-0-"))
            audio = voice_recording(MINOR, rng, rate)
            sf.write(minor, audio, rate, format="OGG")
    return root
