"""Dynamic mixing: new training mixtures every epoch, made on the fly from
clean utterances with the corpus's mixing maths (WSJ0-2Mix gains, WHAM!
noise), as a pure function of (seed, epoch, index) so that DDP ranks draw
disjoint shards of one stream and a resumed run continues it exactly.

Authors
 * sepformer-lobes contributors 2026
"""

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from lobes.corpus.mixing import add_noise, mix_sources
from lobes.training.audio_files import audio_frames
from lobes.training.errors import DataError

SILENT_RMS = 1e-4  # a crop quieter than -80 dBFS is drawn again
CROP_TRIES = 20
AUDIO_SUFFIXES = (".wav", ".flac")
# how a corpus names its speakers: the id of an utterance's speaker
SPEAKER_IDS = {
    "wsj0": (
        lambda path: path.stem[:3],
        "the first 3 characters of the file name, as in WSJ0",
    ),
    "librispeech": (
        lambda path: path.parts[-3],
        "the folder two levels up, "
        "<speaker>/<chapter>/<utterance>, as in LibriSpeech",
    ),
}


class DynamicMixing(torch.utils.data.Dataset):
    """Training mixtures made on the fly from clean utterances.

    Each mixture draws ``num_spks`` different speakers (weighted by their
    number of utterances, as SpeechBrain's recipe does), one utterance
    each, a random crop of ``min(utterance lengths, signal_len)`` samples
    from each, and mixes them at WSJ0-2Mix gains with
    `lobes.corpus.mixing.mix_sources`. With ``noise_folder`` (WHAM!) a
    random noise segment is added at WHAM!-style SNR by
    `lobes.corpus.mixing.add_noise`.

    Items are addressed by ``(epoch, index)`` keys (see ``EpochSampler``)
    and each is a pure function of ``(seed, epoch, index)``: DDP ranks
    draw disjoint shards of one stream, every epoch is new, and a run
    resumed mid-epoch continues exactly where it stopped.

    Clean utterances are ``*.wav`` or ``*.flac`` files anywhere under
    ``clean_folder``; ``speakers`` says how their paths name the speaker
    (`SPEAKER_IDS`: WSJ0's first three characters of the file name, or
    LibriSpeech's ``<speaker>/<chapter>/<utterance>`` folders). Fewer
    speakers than ``num_spks``, or a speaker whose files are all silent,
    raise `DataError` here, before training (as does, while drawing, a
    file whose random crops are all silent).

    Arguments
    ---------
    clean_folder : str
        Folder of clean utterances (``base_folder_dm``).
    num_items : int
        Mixtures per epoch.
    num_spks : int
        Speakers per mixture.
    sample_rate : int
        Sample rate every file must have.
    signal_len : int
        Maximum mixture length in samples (``training_signal_len``).
    seed : int
        Seed of the mixture stream.
    noise_folder : str, optional
        Folder of noise recordings (WHAM! ``tr/noise``).
    speakers : str
        A key of `SPEAKER_IDS`: ``wsj0`` or ``librispeech``.

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> for speaker in ("aaa", "bbb", "ccc"):
    ...     audio = 0.1 * np.random.randn(12000)
    ...     sf.write(folder / f"{speaker}00001.wav", audio, 8000)
    >>> dm = DynamicMixing(str(folder), num_items=4, signal_len=8000)
    >>> item = dm[(1, 0)]  # epoch 1, index 0
    >>> sorted(item), item["mix_sig"].shape
    (['id', 'mix_sig', 's1_sig', 's2_sig'], torch.Size([8000]))
    >>> torch.equal(item["mix_sig"], dm[(1, 0)]["mix_sig"])
    True
    """

    def __init__(
        self,
        clean_folder: str,
        num_items: int,
        num_spks: int = 2,
        sample_rate: int = 8000,
        signal_len: int = 32000,
        seed: int = 1234,
        noise_folder: str | None = None,
        speakers: str = "wsj0",
    ):
        if speakers not in SPEAKER_IDS:
            raise ValueError(
                f"speakers={speakers!r}: choose one of {list(SPEAKER_IDS)}."
            )
        self.num_items = num_items
        self.num_spks = num_spks
        self.signal_len = signal_len
        self.seed = seed
        speaker_of, rule = SPEAKER_IDS[speakers]
        self.speakers = self._index(clean_folder, sample_rate, speaker_of)
        if len(self.speakers) < num_spks:
            raise DataError(
                f"Dynamic mixing needs at least {num_spks} speakers, but "
                f"{clean_folder} has {len(self.speakers)} (speaker id = "
                f"{rule}): set --base_folder_dm to a folder of clean "
                "utterances of more speakers."
            )
        for speaker, files in self.speakers.items():
            loud = (
                _rms(sf.read(path, dtype="float32")[0]) > SILENT_RMS
                for path, _ in files
            )
            if not any(loud):  # reads one file of most speakers
                raise DataError(
                    f"{clean_folder}: the {len(files)} file(s) of speaker "
                    f"{speaker} ({_names(files)}) are all silent: remove "
                    "them from the dynamic mixing folder (base_folder_dm), "
                    "or fix them."
                )
        counts = np.array([len(u) for u in self.speakers.values()], float)
        self.speaker_p = counts / counts.sum()
        self.noises = None
        if noise_folder is not None:
            self.noises = sum(
                self._index(noise_folder, sample_rate, str).values(), []
            )

    @staticmethod
    def _index(
        folder: str, sample_rate: int, speaker_of: Callable[[Path], str]
    ) -> dict[str, list]:
        """Maps speaker id to [(path, frames)] for every audio file under
        folder."""
        if not os.path.isdir(folder):
            raise FileNotFoundError(
                f"Dynamic mixing folder not found: {folder}. Set "
                "--base_folder_dm to the clean training utterances (for "
                "WSJ0-2Mix: wsj0/si_tr_s at the recipe's sample rate)."
            )
        paths = sorted(
            p for p in Path(folder).rglob("*") if p.suffix in AUDIO_SUFFIXES
        )
        if not paths:
            raise FileNotFoundError(
                f"No {' or '.join(AUDIO_SUFFIXES)} files under {folder}."
            )
        index = {}
        for path in paths:
            frames = audio_frames(str(path), sample_rate)
            index.setdefault(speaker_of(path), []).append((str(path), frames))
        return index

    def __len__(self) -> int:
        return self.num_items

    def __getitem__(self, key: tuple[int, int]) -> dict:
        epoch, index = key
        rng = np.random.default_rng([self.seed, epoch, index])
        names = list(self.speakers)
        chosen = rng.choice(
            len(names), self.num_spks, replace=False, p=self.speaker_p
        )
        files = [
            self.speakers[names[c]][rng.integers(len(self.speakers[names[c]]))]
            for c in chosen
        ]
        length = min(min(frames for _, frames in files), self.signal_len)
        sources = [
            self._crop(path, frames, length, rng) for path, frames in files
        ]
        mixture, sources = mix_sources(sources, rng)
        item = {"id": f"dm_{epoch}_{index}", "mix_sig": mixture}
        if self.noises is not None:
            path, _ = self.noises[rng.integers(len(self.noises))]
            noise = torch.from_numpy(sf.read(path, dtype="float32")[0])
            mixture, noise, sources = add_noise(mixture, sources, noise, rng)
            item.update(mix_sig=mixture, noise_sig=noise)
        item.update({f"s{i + 1}_sig": s for i, s in enumerate(sources)})
        return item

    @staticmethod
    def _crop(
        path: str, frames: int, length: int, rng: np.random.Generator
    ) -> torch.Tensor:
        """A random crop with some signal in it: a silent stretch (a pause
        in a long recording) cannot be brought to a mixing level, so its
        start is drawn again."""
        for _ in range(CROP_TRIES):
            start = int(rng.integers(frames - length + 1))
            audio, _ = sf.read(
                path, start=start, frames=length, dtype="float32"
            )
            if _rms(audio) > SILENT_RMS:
                return torch.from_numpy(audio)
        raise DataError(
            f"{path}: {CROP_TRIES} random crops of {length} samples were "
            "all silent. Remove or trim this file from the dynamic mixing "
            "folder (base_folder_dm)."
        )


def _rms(audio: np.ndarray) -> float:
    """The root mean square of samples (0 for none)."""
    return float(np.sqrt(np.mean(np.square(audio)))) if audio.size else 0.0


def _names(files: list[tuple[str, int]], shown: int = 3) -> str:
    """The first ``shown`` of (path, frames) files, for a message."""
    more = f" and {len(files) - shown} more" if len(files) > shown else ""
    return ", ".join(path for path, _ in files[:shown]) + more


class EpochSampler(torch.utils.data.Sampler):
    """Yields the ``(epoch, index)`` keys of one epoch of ``DynamicMixing``.

    The Brain calls ``set_epoch`` before each epoch (under DDP through
    SpeechBrain's ``DistributedSamplerWrapper``, which also shards the keys
    across ranks).

    Arguments
    ---------
    num_items : int
        Keys per epoch.

    Example
    -------
    >>> sampler = EpochSampler(3)
    >>> sampler.set_epoch(2)
    >>> list(sampler)
    [(2, 0), (2, 1), (2, 2)]
    """

    def __init__(self, num_items: int):
        self.num_items = num_items
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Sets the epoch whose keys the next iteration yields."""
        self.epoch = epoch

    def __iter__(self):
        return ((self.epoch, i) for i in range(self.num_items))

    def __len__(self) -> int:
        return self.num_items
