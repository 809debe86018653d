"""Writes the embedded corpus: clean utterances, mixtures and metadata.

:func:`generate` speaks the clean utterances of each split with
:class:`~lobes.corpus.espeak.ESpeak` and, with real voices
(:mod:`lobes.corpus.real_voices`), cuts utterances of real recorded
voices; it mixes 2 or 3 of them, each of a different speaker
(:mod:`lobes.corpus.mixing`) and, in the WHAM! and LibriMix layouts, adds
noise (:mod:`lobes.corpus.noise`). What each split holds is planned by
:mod:`lobes.corpus.splits`; with real voices there is a real-speech test
split of held-out voices (``tt_real``) and ``CREDITS.md`` names them. The
layouts (:mod:`lobes.corpus.layouts`) name splits, folders, mixture ids
and clean utterances as WSJ0-2Mix/3Mix, WHAM! and Libri2Mix/3Mix do.

``OUT/clean/TRAIN`` (``tr``, or ``train-360`` for librimix) serves as
SpeechBrain's ``base_folder_dm`` for dynamic mixing: SPK, a 3-character
speaker id, begins every file stem (upstream's WSJ0 dynamic mixing takes
the first 3 characters as speaker id) and is the folder two levels up in
LibriSpeech's layout (as upstream's LibriMix dynamic mixing reads it). For
WHAM! noise in dynamic mixing the noise files are
``OUT/wav8k/min/TRAIN/noise``. Same arguments give byte-identical files;
a split's content does not depend on the sizes of the other splits, and
the 2-speaker draws do not depend on the 3-speaker code. ``synthmix.json``
also marks the folder as ours: only such a folder is replaced with
``--overwrite``, and only once the new corpus is complete (it is built in
a hidden folder beside it).

Sources and noise are quantised to 16 bits first and the mixtures summed in
integers, so ``mix == s1 + s2 (+ s3)``, ``mix_clean == s1 + s2 (+ s3)`` and
``mix_both == mix_clean + noise`` hold exactly on the files as read back,
in PCM_16 like WSJ0-2Mix.

Authors
 * sepformer-lobes contributors 2026
"""

import io
import json
import math
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio
from speechbrain.utils.logger import get_logger
from tqdm import tqdm

from lobes.corpus.espeak import ESpeak, sentence
from lobes.corpus.layouts import LAYOUTS, NUM_SPKS
from lobes.corpus.mixing import PEAK, add_noise, db, mix_sources, peak, power
from lobes.corpus.noise import make_noise
from lobes.corpus.output import (
    GENERATOR,
    METADATA,
    prepare_output,
    remove_interrupted,
)
from lobes.corpus.real_voices import CREDITS, LICENCES, load_real_voices
from lobes.corpus.splits import (
    UTTERANCES_PER_SPEAKER,
    SplitPlan,
    plan_splits,
    tuples,
)
from lobes.files import write_folder

logger = get_logger(__name__)

__all__ = ["GENERATOR", "METADATA", "UTTERANCES_PER_SPEAKER", "generate"]
SAMPLE_RATES = (8000, 16000)
N_TEST_REAL = 100  # mixtures of the real-speech test split


def generate(
    out_dir: str | os.PathLike,
    layout: str = "wsj0-2mix",
    n_train: int = 200,
    n_valid: int = 50,
    n_test: int = 50,
    seed: int = 1234,
    sample_rate: int = 8000,
    overwrite: bool = False,
    num_spks: int = 2,
    real_voices: str | os.PathLike | None = None,
    n_test_real: int = N_TEST_REAL,
    cache: str | os.PathLike | None = None,
) -> Path:
    """Writes a WSJ0-2Mix/3Mix, WHAM! or LibriMix corpus of eSpeak NG voices
    (and real voices).

    Arguments
    ---------
    out_dir : path
        Output folder; must be empty, missing, or (with ``overwrite``) a
        corpus written by this function and nothing else. The corpus is
        built in a hidden folder beside it and put in place when complete:
        a failure or a kill leaves ``out_dir`` as it was, and the next call
        removes what an interrupted one left.
    layout : str
        ``"wsj0-2mix"``, ``"wham"`` or ``"librimix"``
        (:data:`lobes.corpus.layouts.LAYOUTS`).
    n_train, n_valid, n_test : int
        Mixtures in the train, valid and test splits (``tr``, ``cv``,
        ``tt``; for librimix ``train-360``, ``dev``, ``test``).
    seed : int
        Same arguments give byte-identical files. A split's content does not
        depend on the sizes of the other splits. The wham and librimix
        layouts of the same arguments hold the same signals under other
        names.
    sample_rate : int
        8000 (``wav8k``) or 16000 (``wav16k``).
    overwrite : bool
        Replace a corpus this function wrote earlier in ``out_dir``.
    num_spks : int
        Speakers per mixture, 2 or 3 (folders ``s1`` to ``s<num_spks>``).
    real_voices : str or path, optional
        Real recorded voices beside eSpeak NG's
        (:func:`lobes.corpus.real_voices.load_real_voices`): None or
        ``"off"`` (none), ``"auto"`` (the pinned Debian packages, fetched
        into ``cache``) or a folder of the packages unpacked. Where they
        cannot be had, one line says so and the corpus is eSpeak NG only.
    n_test_real : int
        Mixtures of the real-speech test split (with real voices).
    cache : path, optional
        Where ``"auto"`` keeps the packages (default
        ``$SEPFORMER_LOBES_CACHE`` or ``~/.cache/sepformer-lobes``).

    Returns
    -------
    pathlib.Path
        ``out_dir``.

    Example
    -------
    >>> tmp = getfixture("tmp_path")
    >>> out = generate(tmp / "a", n_train=1, n_valid=1, n_test=1)
    >>> len(list(out.glob("wav8k/min/tt/mix/*.wav")))
    1
    >>> out = generate(tmp / "b", "librimix", 1, 1, 1, num_spks=3)
    >>> sorted(p.name for p in out.glob("wav8k/min/dev/*"))
    ['mix_both', 'mix_clean', 'noise', 's1', 's2', 's3']
    """
    counts = {"n-train": n_train, "n-valid": n_valid, "n-test": n_test}
    counts["n-test-real"] = n_test_real
    _check_args(layout, counts, sample_rate, num_spks, seed)
    out = Path(out_dir)
    prepare_output(out, overwrite)
    tts = ESpeak()  # fails early if eSpeak NG is missing
    args = {
        "layout": layout,
        "num_spks": num_spks,
        "n_train": n_train,
        "n_valid": n_valid,
        "n_test": n_test,
        "seed": seed,
        "sample_rate": sample_rate,
        "real_voices": "off" if real_voices is None else str(real_voices),
        "n_test_real": n_test_real,
    }
    # The signals are short: intra-op threads cost more than they give
    # (50x slower on a busy machine), so use one and restore the setting.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        voices = load_real_voices(
            real_voices, sample_rate, seed, cache, num_spks
        )
        remove_interrupted(out)
        logger.info("Writing a %s corpus to %s", layout, out)
        write_folder(
            out, lambda folder: _write_corpus(folder, tts, voices, args)
        )
    finally:
        torch.set_num_threads(threads)
    return out


def _write_corpus(out: Path, tts: ESpeak, voices, args: dict) -> None:
    """Writes the corpus of `generate`'s ``args`` to ``out``, its
    ``synthmix.json`` first (``complete``: false) and last (true)."""
    layout, num_spks = args["layout"], args["num_spks"]
    sample_rate, seed = args["sample_rate"], args["seed"]
    meta = {
        "generator": GENERATOR,
        "complete": False,
        "outputs": [METADATA, "clean", f"wav{sample_rate // 1000}k"],
        "args": args,
    }
    if voices is not None:
        meta["outputs"] += [CREDITS, LICENCES]
    (out / METADATA).write_text(json.dumps(meta, indent=1))  # ours
    spec = LAYOUTS[layout]
    sizes = dict(tr=args["n_train"], cv=args["n_valid"], tt=args["n_test"])
    plans = plan_splits(
        spec, sizes, num_spks, tts.variants, seed, voices, args["n_test_real"]
    )
    steps = sum(  # signals spoken, cut or mixed
        sum(n for n, _ in p.groups)
        + UTTERANCES_PER_SPEAKER * len(p.speakers)
        + p.real_utterances
        + spec.noisy * p.babble
        for p in plans
    )
    with tqdm(total=steps, desc="synthmix", unit="signal") as bar:
        writer = _CorpusWriter(
            tts, voices, out, spec, num_spks, sample_rate, bar
        )
        meta["splits"] = {
            plan.folder: writer.split(
                plan, np.random.default_rng([seed, plan.stream])
            )
            for plan in plans
        }
    if voices is not None:
        used = {
            split: [s for s, v in record["speakers"].items() if "package" in v]
            for split, record in meta["splits"].items()
        }
        meta["real_voices"] = used
        voices.write_credits(out, used)
    meta["complete"] = True
    (out / METADATA).write_text(json.dumps(meta, indent=1))


def _check_args(layout, counts, sample_rate, num_spks, seed):
    if layout not in LAYOUTS:
        raise ValueError(
            f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}"
        )
    if num_spks not in NUM_SPKS:
        raise ValueError(
            f"--num-spks must be {' or '.join(map(str, NUM_SPKS))}, "
            f"got {num_spks!r}"
        )
    for flag, n in counts.items():
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"--{flag} must be a positive integer, got {n!r}")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"--seed must be a non-negative integer, got {seed!r}")
    if sample_rate not in SAMPLE_RATES:
        raise ValueError(
            f"unsupported sample rate {sample_rate}; WSJ0-2Mix, WHAM! and "
            f"LibriMix come at {' or '.join(map(str, SAMPLE_RATES))} Hz"
        )


class _CorpusWriter:
    """Writes the clean utterances and mixtures of each split."""

    def __init__(self, tts, real, out, layout, num_spks, sample_rate, bar):
        self.tts, self.real, self.bar = tts, real, bar
        self.out, self.layout = out, layout
        self.num_spks, self.sample_rate = num_spks, sample_rate
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

    def split(self, plan: SplitPlan, rng):
        """Writes one split; returns its metadata."""
        split = plan.folder
        self.bar.set_postfix(split=split)
        record = {"speakers": {s.id: asdict(s) for s in plan.speakers}}
        record["utterances"] = {}
        by_speaker = {}
        for speaker in plan.speakers:
            for i in range(UTTERANCES_PER_SPEAKER):
                text, wav = self.speak(speaker, rng)
                info = {"speaker": speaker.id, "text": text}
                self.clean(split, i, wav, info, record, by_speaker)
        espeak = sorted(by_speaker)
        self.cut_real(plan, record, by_speaker)
        babble = []  # (utterance id, samples)
        if self.layout.noisy:
            talkers = plan.talkers
            record["noise_speakers"] = {s.id: asdict(s) for s in talkers}
            record["noise_utterances"] = {}
            for i in range(plan.babble):
                speaker = talkers[i // 2]
                utt = self.layout.utterance_id(speaker.id, i % 2)
                text, wav = self.speak(speaker, rng)
                babble.append((utt, wav / 32768))
                record["noise_utterances"][utt] = {
                    "speaker": speaker.id,
                    "text": text,
                }
        record["mixtures"] = []
        pools = {
            "espeak": espeak,
            "real": sorted(set(by_speaker) - set(espeak)),
            "all": sorted(by_speaker),
        }
        for n, pool in plan.groups:
            self.draw(split, n, pools[pool], by_speaker, record, babble, rng)
        return record

    def clean(self, split, index, wav, info, record, by_speaker):
        """Writes the ``index``-th clean utterance of ``info["speaker"]``."""
        speaker = info["speaker"]
        utt = self.layout.utterance_id(speaker, index)
        _write(
            self.out / self.layout.clean_path(split, utt), wav, self.sample_rate
        )
        record["utterances"][utt] = {**info, "samples": len(wav)}
        by_speaker.setdefault(speaker, []).append(utt)

    def cut_real(self, plan, record, by_speaker):
        """Writes the split's utterances of real voices, shared out evenly:
        voices with fewer recordings first, so that what one lacks goes to
        the others."""
        voices = sorted(plan.voices, key=lambda v: len(self.real.files(v)))
        remaining = plan.real_utterances
        for k, voice in enumerate(voices):
            quota = math.ceil(remaining / (len(voices) - k))
            utterances = self.real.utterances(voice, quota)
            remaining -= len(utterances)
            if quota and not utterances:
                logger.warning(
                    "Real voice %s: no speech found in %s",
                    voice.id,
                    voice.package,
                )
            if not utterances:
                continue
            record["speakers"][voice.id] = {
                "id": voice.id,
                "name": voice.name,
                "package": voice.package,
                "language": voice.language,
                "sex": voice.sex,
            }
            for i, (samples, pieces) in enumerate(utterances):
                wav = torch.from_numpy(samples)
                wav = _to_pcm16(wav * PEAK / peak([wav]))
                info = {"speaker": voice.id, "pieces": pieces}
                self.clean(plan.folder, i, wav, info, record, by_speaker)
                self.bar.update()
            self.real.release(voice)  # each voice serves one split
        self.bar.update(max(0, remaining))  # what the recordings lacked

    def draw(self, split, n, pool, by_speaker, record, babble, rng):
        """Draws and writes ``n`` mixtures of the speakers in ``pool``, no
        tuple of utterances twice."""
        counts = [len(by_speaker[s]) for s in pool]
        if tuples(counts, self.num_spks) < n:
            raise ValueError(
                f"{split}: {n} mixtures of {self.num_spks} speakers cannot be "
                f"drawn from {len(pool)} speakers with {sum(counts)} "
                "utterances; ask for fewer mixtures"
            )
        drawn = set()  # tuples of utterances, one per speaker
        while len(drawn) < n:
            spks = rng.choice(pool, size=self.num_spks, replace=False)
            utts = tuple(str(rng.choice(by_speaker[spk])) for spk in spks)
            if utts not in drawn:
                drawn.add(utts)
                entry = self.mix(split, utts, record, babble, rng)
                record["mixtures"].append(entry)

    def mix(self, split, utts, record, babble, rng):
        """Writes the mixture of clean utterances; returns its metadata."""
        clean = [
            sf.read(self.out / self.layout.clean_path(split, u))[0]
            for u in utts
        ]
        mixture, sources = mix_sources(
            [torch.from_numpy(c).float() for c in clean], rng
        )
        gain = db(sources[0], sources[1])
        # levels as mix_sources applied them: +-gain/2, then vs the first
        levels = [gain / 2, -gain / 2]
        levels += [gain / 2 + db(s, sources[0]) for s in sources[2:]]
        mix_id = self.layout.mixture_id(list(utts), levels)
        entry = {
            "id": mix_id,
            "utterances": list(utts),
            "speakers": [record["utterances"][u]["speaker"] for u in utts],
            "gain_db": gain,
            "samples": mixture.shape[-1],
        }
        if len(utts) > 2:
            entry["levels_db"] = levels
        noise = None
        if self.layout.noisy:
            noise, entry["noise"] = make_noise(
                mixture.shape[-1], self.sample_rate, babble, rng
            )
            _, noise, sources = add_noise(mixture, sources, noise, rng)
            entry["snr_db"] = db(max(sources, key=power), noise)
            noise = _to_pcm16(noise)
        # sum in integers so the files add up exactly
        files = {f"s{i + 1}": _to_pcm16(s) for i, s in enumerate(sources)}
        clean_mix = sum(files.values())
        if noise is None:
            files["mix"] = clean_mix
        else:
            files.update(mix_both=clean_mix + noise, mix_clean=clean_mix)
            files["noise"] = noise
        assert set(files) == set(self.layout.folders(len(utts)))
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
