"""Writes the embedded corpus: clean utterances, mixtures and metadata.

:func:`generate` speaks the clean utterances of each split with
:class:`~lobes.corpus.espeak.ESpeak`, mixes pairs of them
(:mod:`lobes.corpus.mixing`) and, in the WHAM! layout, adds noise
(:mod:`lobes.corpus.noise`); the file layout is in :mod:`lobes.corpus`.

``OUT/clean/tr`` serves as SpeechBrain's ``base_folder_dm`` for dynamic
mixing: SPK is a 3-character speaker id, the parent folder and the first 3
characters of every file stem (which upstream's WSJ0 dynamic mixing uses as
speaker id). For WHAM! dynamic mixing the noise files are
``OUT/wav8k/min/tr/noise``. Mixture ids follow WSJ0-2Mix:
``UTT1_GAIN1_UTT2_GAIN2`` with the source gains in dB. Same arguments give
byte-identical files; a split's content does not depend on the sizes of
the other splits. ``synthmix.json`` also marks the folder as ours: only
such a folder is replaced with ``--overwrite``.

Sources and noise are quantised to 16 bits first and the mixtures summed in
integers, so ``mix == s1 + s2`` and ``mix_both == mix_clean + noise`` hold
exactly on the files as read back, in PCM_16 like WSJ0-2Mix.

Authors
 * sepformer-lobes contributors 2026
"""

import io
import json
import math
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio
from speechbrain.utils.logger import get_logger
from tqdm import tqdm

from lobes.corpus.espeak import ESpeak, sentence
from lobes.corpus.mixing import PEAK, add_noise, db, mix_sources, peak, power
from lobes.corpus.noise import make_noise
from lobes.corpus.speakers import plan_speakers

logger = get_logger(__name__)

LAYOUTS = {
    "wsj0-2mix": ("mix", "s1", "s2"),
    "wham": ("mix_both", "mix_clean", "s1", "s2", "noise"),
}
SPLITS = ("tr", "cv", "tt")
SAMPLE_RATES = (8000, 16000)
UTTERANCES_PER_SPEAKER = 4
METADATA = "synthmix.json"
GENERATOR = "lobes.synthmix"  # marks corpora on disk; keep it unchanged


def generate(
    out_dir: str | os.PathLike,
    layout: str = "wsj0-2mix",
    n_train: int = 200,
    n_valid: int = 50,
    n_test: int = 50,
    seed: int = 1234,
    sample_rate: int = 8000,
    overwrite: bool = False,
) -> Path:
    """Writes a synthetic WSJ0-2Mix or WHAM! corpus (see lobes.corpus).

    Arguments
    ---------
    out_dir : path
        Output folder; must be empty, missing, or (with ``overwrite``) a
        corpus written by this function.
    layout : str
        ``"wsj0-2mix"`` or ``"wham"``.
    n_train, n_valid, n_test : int
        Mixtures in tr, cv and tt.
    seed : int
        Same arguments give byte-identical files. A split's content does not
        depend on the sizes of the other splits.
    sample_rate : int
        8000 (``wav8k``) or 16000 (``wav16k``).
    overwrite : bool
        Replace a corpus this function wrote earlier in ``out_dir``.

    Returns
    -------
    pathlib.Path
        ``out_dir``.

    Example
    -------
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = generate(tmp, n_train=1, n_valid=1, n_test=1)
    ...     len(list(out.glob("wav8k/min/tt/mix/*.wav")))
    1
    """
    counts = {"n-train": n_train, "n-valid": n_valid, "n-test": n_test}
    _check_args(layout, counts, sample_rate)
    tts = ESpeak()  # fails early if eSpeak NG is missing
    out = Path(out_dir)
    _prepare_output(out, overwrite)
    meta = {
        "generator": GENERATOR,
        "complete": False,
        "outputs": [METADATA, "clean", f"wav{sample_rate // 1000}k"],
        "args": {
            "layout": layout,
            "n_train": n_train,
            "n_valid": n_valid,
            "n_test": n_test,
            "seed": seed,
            "sample_rate": sample_rate,
        },
    }
    (out / METADATA).write_text(json.dumps(meta, indent=1))  # marks it ours
    logger.info("Writing a %s corpus to %s", layout, out)

    sizes = dict(zip(SPLITS, counts.values(), strict=True))
    roles = {split: _speaker_count(n) for split, n in sizes.items()}
    for split, n in sizes.items():
        roles[f"noise-{split}"] = math.ceil(_babble_count(n) / 2)
    speakers = plan_speakers(roles, tts.variants, seed)
    babble = layout == "wham"
    steps = sum(  # signals spoken or mixed
        n + UTTERANCES_PER_SPEAKER * roles[split] + babble * _babble_count(n)
        for split, n in sizes.items()
    )
    # The signals are short: intra-op threads cost more than they give
    # (50x slower on a busy machine), so use one and restore the setting.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with tqdm(total=steps, desc="synthmix", unit="signal") as bar:
            writer = _CorpusWriter(tts, out, layout, sample_rate, bar)
            meta["splits"] = {
                split: writer.split(
                    split,
                    n,
                    speakers[split],
                    speakers[f"noise-{split}"],
                    np.random.default_rng([seed, 10 + k]),
                )
                for k, (split, n) in enumerate(sizes.items())
            }
    finally:
        torch.set_num_threads(threads)
    meta["complete"] = True
    (out / METADATA).write_text(json.dumps(meta, indent=1))
    return out


def _check_args(layout, counts, sample_rate):
    if layout not in LAYOUTS:
        raise ValueError(
            f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}"
        )
    for flag, n in counts.items():
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"--{flag} must be a positive integer, got {n!r}")
    if sample_rate not in SAMPLE_RATES:
        raise ValueError(
            f"unsupported sample rate {sample_rate}; WSJ0-2Mix and WHAM! "
            f"come at {' or '.join(map(str, SAMPLE_RATES))} Hz"
        )


def _prepare_output(out, overwrite):
    """Makes ``out`` an empty writable folder; removes only our own output."""
    if out.is_dir() and any(out.iterdir()):
        marker = out / METADATA
        if not overwrite:
            raise FileExistsError(
                f"output folder {out} is not empty; choose another folder or "
                "pass --overwrite to replace a corpus made by lobes.synthmix"
            )
        try:
            outputs = json.loads(marker.read_text())["outputs"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise FileExistsError(
                f"refusing to overwrite {out}: it has no {METADATA} written "
                "by lobes.synthmix, so it may hold someone else's files"
            ) from err
        logger.info("Removing the lobes.synthmix corpus in %s", out)
        for name in outputs:
            path = out / Path(name).name
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as err:
        raise OSError(
            f"cannot write the corpus to {out} ({err.strerror or err}); "
            "choose a writable OUT_DIR"
        ) from err


def _speaker_count(mixtures):
    return max(2, math.ceil(2 * mixtures / UTTERANCES_PER_SPEAKER))


def _babble_count(mixtures):
    """Babble utterances of a split, 2 per talker, 3-5 used per mixture."""
    return max(6, math.ceil(mixtures / 2))


class _CorpusWriter:
    """Writes the clean utterances and mixtures of each split."""

    def __init__(self, tts, out, layout, sample_rate, bar):
        self.tts, self.out, self.layout, self.bar = tts, out, layout, bar
        self.sample_rate = sample_rate
        self.mixtures = out / f"wav{sample_rate // 1000}k" / "min"
        self.resample = torchaudio.transforms.Resample(
            ESpeak.sample_rate, sample_rate
        )

    def speak(self, speaker, rng):
        """Draws a sentence; returns it and int samples peaking at 0.9."""
        text = sentence(speaker.voice, rng)
        native = self.tts.synthesize(text, speaker, int(rng.integers(2**31)))
        wav = torch.from_numpy(native).float()[None] / 32768
        wav = self.resample(wav)[0]  # [time]
        self.bar.update()
        return text, _to_pcm16(wav * PEAK / peak([wav]))

    def split(self, split, n, speakers, talkers, rng):
        """Writes one split; returns its metadata."""
        self.bar.set_postfix(split=split)
        record = {"speakers": {s.id: asdict(s) for s in speakers}}
        record["utterances"] = {}
        for speaker in speakers:
            for i in range(UTTERANCES_PER_SPEAKER):
                utt = f"{speaker.id}{i:05d}"
                text, wav = self.speak(speaker, rng)
                path = self.out / "clean" / split / speaker.id / f"{utt}.wav"
                _write(path, wav, self.sample_rate)
                record["utterances"][utt] = {
                    "speaker": speaker.id,
                    "text": text,
                    "samples": len(wav),
                }
        babble = []  # (utterance id, samples)
        if self.layout == "wham":
            record["noise_speakers"] = {s.id: asdict(s) for s in talkers}
            record["noise_utterances"] = {}
            for i in range(_babble_count(n)):
                speaker = talkers[i // 2]
                utt = f"{speaker.id}{i % 2:05d}"
                text, wav = self.speak(speaker, rng)
                babble.append((utt, wav / 32768))
                record["noise_utterances"][utt] = {
                    "speaker": speaker.id,
                    "text": text,
                }
        record["mixtures"] = []
        by_speaker = {}
        for utt in record["utterances"]:
            by_speaker.setdefault(utt[:3], []).append(utt)
        pairs = set()
        while len(pairs) < n:
            spk1, spk2 = rng.choice(sorted(by_speaker), size=2, replace=False)
            pair = (
                str(rng.choice(by_speaker[spk1])),
                str(rng.choice(by_speaker[spk2])),
            )
            if pair not in pairs:
                pairs.add(pair)
                record["mixtures"].append(self.mix(split, pair, babble, rng))
        return record

    def mix(self, split, pair, babble, rng):
        """Writes the mixture of two clean utterances; returns its metadata."""
        clean = [
            sf.read(self.out / "clean" / split / u[:3] / f"{u}.wav")[0]
            for u in pair
        ]
        mixture, sources = mix_sources(
            [torch.from_numpy(c).float() for c in clean], rng
        )
        gain = db(sources[0], sources[1])
        mix_id = f"{pair[0]}_{gain / 2:.5f}_{pair[1]}_{-gain / 2:.5f}"
        entry = {
            "id": mix_id,
            "utterances": list(pair),
            "speakers": [u[:3] for u in pair],
            "gain_db": gain,
            "samples": mixture.shape[-1],
        }
        if self.layout == "wham":
            noise, entry["noise"] = make_noise(
                mixture.shape[-1], self.sample_rate, babble, rng
            )
            _, noise, sources = add_noise(mixture, sources, noise, rng)
            entry["snr_db"] = db(max(sources, key=power), noise)
            # sum in integers so the files add up exactly
            s1, s2, noise = (_to_pcm16(x) for x in (*sources, noise))
            files = {
                "mix_both": s1 + s2 + noise,
                "mix_clean": s1 + s2,
                "s1": s1,
                "s2": s2,
                "noise": noise,
            }
        else:
            s1, s2 = (_to_pcm16(x) for x in sources)
            files = {"mix": s1 + s2, "s1": s1, "s2": s2}
        for folder, samples in files.items():
            path = self.mixtures / split / folder / f"{mix_id}.wav"
            _write(path, samples, self.sample_rate)
        self.bar.update()
        return entry


def _to_pcm16(signal):
    return np.round(signal.double().numpy() * 32768).astype(np.int32)


def _write(path, samples, sample_rate):
    assert np.abs(samples).max(initial=0) < 32768, path  # PEAK < 1
    # through memory: soundfile fsyncs files it closes, 2-3 ms each
    wav = io.BytesIO()
    sf.write(wav, samples.astype(np.int16), sample_rate, "PCM_16", format="WAV")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(wav.getvalue())
