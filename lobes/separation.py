"""Speech separation with SpeechBrain: the one ``Separation`` Brain behind
every recipe of this package, its data pipeline (SpeechBrain separation CSVs
and dynamic mixing), its metrics and its data checks.

The recipes (``recipes/WSJ0Mix``, ``recipes/WHAM``) only parse arguments,
prepare their CSVs and say where the WHAM! noise is; everything else is here.
Behaviour follows SpeechBrain's ``recipes/WSJ0Mix/separation`` with these
fixes: the forward pass goes through ``self.modules`` (so DDP synchronises
gradients), dynamic mixing is sharded across DDP ranks and seeded per epoch
(a resumed run continues the same stream), all ranks agree on skipping a bad
batch, and SDR comes from ``fast_bss_eval`` (mir_eval's BSS-eval, fast).

Authors
 * sepformer-lobes contributors 2025
"""

import csv
import os
from collections.abc import Sequence
from pathlib import Path

import fast_bss_eval
import numpy as np
import soundfile as sf
import speechbrain as sb
import torch
import torch.nn.functional as F
from hyperpyyaml import load_hyperpyyaml
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.dataio.dataio import load_data_csv, read_audio, write_audio
from speechbrain.dataio.dataset import DynamicItemDataset
from speechbrain.nnet.losses import get_si_snr_with_pitwrapper
from speechbrain.nnet.schedulers import update_learning_rate
from speechbrain.utils.distributed import (
    if_main_process,
    is_distributed_initialized,
    run_on_main,
)
from speechbrain.utils.logger import get_logger
from tqdm import tqdm

from lobes.synthmix import add_noise, mix_sources

logger = get_logger(__name__)

SILENT_RMS = 1e-4  # a dynamic-mixing crop quieter than -80 dBFS is redrawn
CROP_TRIES = 20


# --------------------------------------------------------------------------
# Data checks: fail before training, naming the file and the fix.
# --------------------------------------------------------------------------


def audio_frames(path: str, sample_rate: int) -> int:
    """Returns the length of a mono audio file, after checking it.

    Arguments
    ---------
    path : str
        The audio file.
    sample_rate : int
        The sample rate the file must have.

    Returns
    -------
    frames : int
        Number of samples in the file.

    Example
    -------
    >>> path = getfixture("tmp_path") / "a.wav"
    >>> sf.write(path, np.zeros(800), 8000)
    >>> audio_frames(str(path), 8000)
    800
    >>> audio_frames(str(path), 16000)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: ...a.wav is sampled at 8000 Hz, but sample_rate is 16000 Hz...
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"Audio file not found: {path}. Check --data_folder and the "
            "paths in the CSV files."
        )
    info = sf.info(path)
    if info.channels != 1:
        raise ValueError(
            f"{path} has {info.channels} channels, but separation needs mono "
            "files: keep one channel (e.g. `sox in.wav out.wav remix 1`)."
        )
    if info.samplerate != sample_rate:
        raise ValueError(
            f"{path} is sampled at {info.samplerate} Hz, but sample_rate is "
            f"{sample_rate} Hz: resample the data or pass "
            f"--sample_rate={info.samplerate}."
        )
    return info.frames


def check_csv(
    csv_path: str, data_folder: str, sample_rate: int, signals: Sequence[str]
) -> None:
    """Checks every file of a separation CSV before training starts.

    Each row needs one ``<signal>_wav`` column per signal (``mix``, ``s1``,
    ``s2``, ...), pointing at existing mono files sampled at
    ``sample_rate``, all of the same length (the "min" versions of
    WSJ0-2Mix and WHAM!).

    Arguments
    ---------
    csv_path : str
        A CSV in SpeechBrain's separation format.
    data_folder : str
        Replaces ``$data_root`` in the paths, as in the data pipeline.
    sample_rate : int
        The sample rate every file must have.
    signals : Sequence[str]
        Signal names, e.g. ``["mix", "s1", "s2", "noise"]``.
    """
    if not os.path.isfile(csv_path):
        raise FileNotFoundError(
            f"CSV file not found: {csv_path}. Prepare the data with "
            "--skip_prep=False, or pass existing CSVs with --train_data, "
            "--valid_data and --test_data."
        )
    rows = load_data_csv(csv_path, replacements={"data_root": data_folder})
    if not rows:
        raise ValueError(f"{csv_path} has no rows.")
    columns = [f"{s}_wav" for s in signals]
    missing = [c for c in columns if c not in next(iter(rows.values()))]
    if missing:
        raise ValueError(
            f"{csv_path} lacks the column(s) {missing}; a separation CSV "
            f"here needs ID, duration, {', '.join(columns)}."
        )
    for uid, row in tqdm(
        rows.items(),
        desc=f"Checking {os.path.basename(csv_path)}",
        disable=len(rows) < 1000 or not if_main_process(),
    ):
        frames = {c: audio_frames(row[c], sample_rate) for c in columns}
        if len(set(frames.values())) > 1:
            raise ValueError(
                f"{csv_path}, row {uid}: the signals differ in length "
                f"{frames}; use the 'min' version of the corpus."
            )


# --------------------------------------------------------------------------
# CSV preparation (shared by the recipes' prepare_data.py).
# --------------------------------------------------------------------------


def write_separation_csv(folders: dict[str, str], csv_path: str) -> int:
    """Writes a SpeechBrain separation CSV for one split of a corpus laid
    out as one folder per signal with the same file names in each
    (WSJ0-2Mix ``mix/s1/s2``, WHAM! ``mix_both/s1/s2/noise``).

    Columns are those of SpeechBrain's recipes: ``ID, duration``, then
    ``<signal>_wav, <signal>_wav_format, <signal>_wav_opts`` per signal.

    Arguments
    ---------
    folders : dict[str, str]
        Signal name to folder, the mixture first under the name ``mix``.
    csv_path : str
        Where to write the CSV.

    Returns
    -------
    rows : int
        Number of utterances written.

    Example
    -------
    >>> root = getfixture("tmp_path")
    >>> for signal in ("mix", "s1", "s2"):
    ...     (root / signal).mkdir()
    ...     sf.write(root / signal / "utt1.wav", np.zeros(800), 8000)
    >>> folders = {s: str(root / s) for s in ("mix", "s1", "s2")}
    >>> write_separation_csv(folders, str(root / "tt.csv"))
    1
    >>> check_csv(str(root / "tt.csv"), "", 8000, ["mix", "s1", "s2"])
    >>> data = csv_dataset(str(root / "tt.csv"), "", ["mix", "s1", "s2"])
    >>> data[0]["id"], data[0]["s2_sig"].shape
    ('utt1', torch.Size([800]))
    """
    for folder in folders.values():
        if not os.path.isdir(folder):
            raise FileNotFoundError(
                f"Folder not found: {folder}. Check --data_folder: it must "
                "hold the corpus layout (see prepare_data.py)."
            )
    names = sorted(f for f in os.listdir(folders["mix"]) if f.endswith(".wav"))
    if not names:
        raise FileNotFoundError(f"No .wav files in {folders['mix']}.")
    for folder in folders.values():
        absent = sorted(set(names) - set(os.listdir(folder)))
        if absent:
            raise FileNotFoundError(
                f"{folder} lacks {len(absent)} file(s) that "
                f"{folders['mix']} has, e.g. {absent[0]}."
            )
    columns = ["ID", "duration"]
    for signal in folders:
        columns += [
            f"{signal}_wav",
            f"{signal}_wav_format",
            f"{signal}_wav_opts",
        ]
    os.makedirs(os.path.dirname(os.path.abspath(csv_path)), exist_ok=True)
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for name in names:
            paths = {s: os.path.join(d, name) for s, d in folders.items()}
            row = {"ID": Path(name).stem}
            row["duration"] = sf.info(paths["mix"]).duration
            for signal, path in paths.items():
                row[f"{signal}_wav"] = path
                row[f"{signal}_wav_format"] = "wav"
                row[f"{signal}_wav_opts"] = None
            writer.writerow(row)
    logger.info(f"Wrote {csv_path} ({len(names)} utterances)")
    return len(names)


# --------------------------------------------------------------------------
# Datasets: SpeechBrain CSVs and dynamic mixing.
# --------------------------------------------------------------------------


def write_split_csvs(
    datapath: str,
    savepath: str,
    folders: dict[str, str],
    prefix: str,
    fs: int = 8000,
) -> None:
    """Writes ``savepath/<prefix>_{tr,cv,tt}.csv`` for a corpus laid out as
    ``datapath/wav{8,16}k/min/{tr,cv,tt}/<folder>/<utterance id>.wav``.

    Arguments
    ---------
    datapath : str
        The corpus folder.
    savepath : str
        Where the CSVs go.
    folders : dict
        CSV signal name -> folder name, e.g. ``{"mix": "mix_both"}``.
    prefix : str
        CSV name prefix, e.g. ``wsj`` (SpeechBrain's WSJ0Mix names).
    fs : int
        Sample rate: picks ``wav8k`` or ``wav16k``.
    """
    if not os.path.isdir(datapath):
        subfolders = ",".join(folders.values())
        raise FileNotFoundError(
            f"data_folder not found: {datapath}. It must hold "
            f"wav{fs // 1000}k/min/{{tr,cv,tt}}/{{{subfolders}}}."
        )
    for split in ("tr", "cv", "tt"):
        root = os.path.join(datapath, f"wav{fs // 1000}k", "min", split)
        write_separation_csv(
            {s: os.path.join(root, f) for s, f in folders.items()},
            os.path.join(savepath, f"{prefix}_{split}.csv"),
        )


def signal_names(num_spks: int, noise: bool = False) -> list[str]:
    """Names of the signals of one example.

    Arguments
    ---------
    num_spks : int
        Number of speakers.
    noise : bool
        Whether examples carry their noise (WHAM!).

    Returns
    -------
    names : list[str]

    Example
    -------
    >>> signal_names(2, noise=True)
    ['mix', 's1', 's2', 'noise']
    """
    names = ["mix"] + [f"s{i + 1}" for i in range(num_spks)]
    return names + ["noise"] if noise else names


def csv_dataset(
    csv_path: str, data_folder: str, signals: Sequence[str]
) -> DynamicItemDataset:
    """A dataset reading ``<signal>_sig`` for each ``<signal>_wav`` column.

    Arguments
    ---------
    csv_path : str
        A CSV in SpeechBrain's separation format.
    data_folder : str
        Replaces ``$data_root`` in the paths.
    signals : Sequence[str]
        Signal names, e.g. ``["mix", "s1", "s2"]``.

    Returns
    -------
    dataset : DynamicItemDataset
    """
    data = DynamicItemDataset.from_csv(
        csv_path, replacements={"data_root": data_folder}
    )
    for signal in signals:
        data.add_dynamic_item(
            read_audio, takes=f"{signal}_wav", provides=f"{signal}_sig"
        )
    data.set_output_keys(["id"] + [f"{s}_sig" for s in signals])
    return data


class DynamicMixing(torch.utils.data.Dataset):
    """Training mixtures made on the fly from clean utterances.

    Each mixture draws ``num_spks`` different speakers (weighted by their
    number of utterances, as SpeechBrain's recipe does), one utterance
    each, a random crop of ``min(utterance lengths, signal_len)`` samples
    from each, and mixes them at WSJ0-2Mix gains with
    ``lobes.synthmix.mix_sources``. With ``noise_folder`` (WHAM!) a random
    noise segment is added at WHAM!-style SNR by ``lobes.synthmix.add_noise``.

    Items are addressed by ``(epoch, index)`` keys (see ``EpochSampler``)
    and each is a pure function of ``(seed, epoch, index)``: DDP ranks
    draw disjoint shards of one stream, every epoch is new, and a run
    resumed mid-epoch continues exactly where it stopped.

    Clean utterances are ``*.wav`` files anywhere under ``clean_folder``;
    the first three characters of a file name are its speaker id (WSJ0).

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
    ):
        self.num_items = num_items
        self.num_spks = num_spks
        self.signal_len = signal_len
        self.seed = seed
        self.speakers = self._index(clean_folder, sample_rate)
        if len(self.speakers) < num_spks:
            raise ValueError(
                f"Dynamic mixing needs at least {num_spks} speakers, but "
                f"{clean_folder} has {len(self.speakers)} (speaker id = first "
                "3 characters of the file name, as in WSJ0)."
            )
        counts = np.array([len(u) for u in self.speakers.values()], float)
        self.speaker_p = counts / counts.sum()
        self.noises = None
        if noise_folder is not None:
            self.noises = sum(
                self._index(noise_folder, sample_rate).values(), []
            )

    @staticmethod
    def _index(folder: str, sample_rate: int) -> dict[str, list]:
        """Maps speaker id to [(path, frames)] for every wav under folder."""
        if not os.path.isdir(folder):
            raise FileNotFoundError(
                f"Dynamic mixing folder not found: {folder}. Set "
                "--base_folder_dm to the clean training utterances (for "
                "WSJ0-2Mix: wsj0/si_tr_s at the recipe's sample rate)."
            )
        paths = sorted(Path(folder).rglob("*.wav"))
        if not paths:
            raise FileNotFoundError(f"No .wav files under {folder}.")
        index = {}
        for path in paths:
            frames = audio_frames(str(path), sample_rate)
            index.setdefault(path.stem[:3], []).append((str(path), frames))
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
            if np.sqrt(np.mean(np.square(audio))) > SILENT_RMS:
                return torch.from_numpy(audio)
        raise ValueError(
            f"{path}: {CROP_TRIES} random crops of {length} samples were "
            "all silent. Remove or trim this file from the dynamic mixing "
            "folder (base_folder_dm)."
        )


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


def dataio_prep(
    hparams: dict, noise_folder: str | None = None
) -> tuple[torch.utils.data.Dataset, DynamicItemDataset, DynamicItemDataset]:
    """Checks the data and builds the train, valid and test datasets.

    Arguments
    ---------
    hparams : dict
        Recipe hyperparameters (``train_data``, ``valid_data``,
        ``test_data``, ``data_folder``, ``num_spks``, ``sample_rate``,
        ``dynamic_mixing``, ``base_folder_dm``, ``training_signal_len``,
        ``seed``).
    noise_folder : str, optional
        WHAM! training noise: examples then carry ``noise_sig`` (from the
        CSVs' ``noise_wav``) and dynamic mixing adds noise from this folder.

    Returns
    -------
    train, valid, test : datasets
        ``train`` is a ``DynamicMixing`` when ``dynamic_mixing`` is True.
    """
    signals = signal_names(hparams["num_spks"], noise=noise_folder is not None)
    splits = ["train_data", "valid_data", "test_data"]
    checked = splits[1:] if hparams["dynamic_mixing"] else splits
    for split in checked:
        run_on_main(
            check_csv,
            args=[
                hparams[split],
                hparams["data_folder"],
                hparams["sample_rate"],
            ],
            kwargs={"signals": signals},
        )
    train, valid, test = (
        csv_dataset(hparams[s], hparams["data_folder"], signals) for s in splits
    )
    if hparams["dynamic_mixing"]:
        train = DynamicMixing(
            hparams["base_folder_dm"],
            num_items=len(train),
            num_spks=hparams["num_spks"],
            sample_rate=hparams["sample_rate"],
            signal_len=hparams["training_signal_len"],
            seed=hparams["seed"],
            noise_folder=noise_folder,
        )
    return train, valid, test


# --------------------------------------------------------------------------
# Metrics.
# --------------------------------------------------------------------------


def bss_sdr(
    references: torch.Tensor, estimates: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """BSS-eval SDR with ``mir_eval.separation.bss_eval_sources`` semantics
    (512-tap distortion filter, estimates permuted to maximise the SIR),
    computed by ``fast_bss_eval`` in float64.

    Arguments
    ---------
    references : torch.Tensor
        Reference sources, [S, T].
    estimates : torch.Tensor
        Estimated sources, [S, T].

    Returns
    -------
    sdr : torch.Tensor
        SDR in dB of each reference, [S].
    perm : torch.Tensor
        ``estimates[perm]`` is aligned with ``references``, [S].

    Example
    -------
    >>> refs = torch.randn(2, 4000)
    >>> sdr, perm = bss_sdr(refs, refs.flip(0) + 0.1 * torch.randn(2, 4000))
    >>> perm.tolist(), bool((sdr > 15).all())
    ([1, 0], True)
    """
    # NumPy backend: torch's batched LU nests MKL's OpenMP team inside its
    # own parallel_for, which livelocks once torch's thread count changed.
    sdr, _, _, perm = fast_bss_eval.bss_eval_sources(
        references.detach().double().cpu().numpy(),
        estimates.detach().double().cpu().numpy(),
        compute_permutation=True,
    )
    return torch.from_numpy(sdr), torch.from_numpy(perm)


def separation_scores(
    references: torch.Tensor, estimates: torch.Tensor, mixture: torch.Tensor
) -> tuple[dict[str, float], torch.Tensor]:
    """SI-SNR (permutation invariant) and SDR of one utterance's estimates,
    and their improvements over the unprocessed mixture.

    Arguments
    ---------
    references : torch.Tensor
        Reference sources, [T, S].
    estimates : torch.Tensor
        Estimated sources, [T, S].
    mixture : torch.Tensor
        The input mixture, [T].

    Returns
    -------
    scores : dict[str, float]
        ``sdr``, ``sdr_i``, ``si-snr``, ``si-snr_i`` in dB, as in the
        ``test_results.csv`` of SpeechBrain's recipes.
    perm : torch.Tensor
        ``estimates[:, perm]`` is aligned with ``references``, [S].

    Example
    -------
    >>> refs = torch.randn(4000, 2)
    >>> scores, perm = separation_scores(refs, refs, refs.sum(-1))
    >>> round(scores["si-snr"]) > 60, perm.tolist()
    (True, [0, 1])
    """
    mixtures = mixture[:, None].expand_as(references)
    si_snr = -get_si_snr_with_pitwrapper(references[None], estimates[None])
    si_snr_mix = -get_si_snr_with_pitwrapper(references[None], mixtures[None])
    sdr, perm = bss_sdr(references.T, estimates.T)
    sdr_mix, _ = bss_sdr(references.T, mixtures.T)
    scores = {
        "sdr": sdr.mean().item(),
        "sdr_i": (sdr - sdr_mix).mean().item(),
        "si-snr": si_snr.item(),
        "si-snr_i": (si_snr - si_snr_mix).item(),
    }
    return scores, perm


# --------------------------------------------------------------------------
# The Brain.
# --------------------------------------------------------------------------


class Separation(sb.Brain):
    """Trains and evaluates an Encoder / MaskNet / Decoder separator.

    Expects ``modules`` ``encoder``, ``masknet``, ``decoder`` (SpeechBrain's
    masknet contract: masks [num_spks, B, N, L]) and the hyperparameters of
    SpeechBrain's separation recipes. Training: permutation-invariant SI-SNR
    loss, speed perturbation and random shifts per source, wavedrop, random
    crops, loss thresholding, skipping of non-finite losses (on all DDP
    ranks at once), gradient clipping and ReduceLROnPlateau; the checkpoint
    with the best validation SI-SNR is kept. Testing writes
    ``test_results.csv`` (per-utterance and average SI-SNR(i), SDR(i)) and,
    with ``save_audio``, separated audio to ``<save_folder>/audio_results``.
    """

    def separate(self, mix: torch.Tensor) -> torch.Tensor:
        """Separates mixtures [B, T] into sources [B, T, S]."""
        mix_w = self.modules.encoder(mix)  # [B, N, L]
        masks = self.modules.masknet(mix_w)  # [S, B, N, L]
        S, B, N, L = masks.shape
        # One decoder call for all speakers: a DDP module may run once a step.
        est = self.modules.decoder((mix_w * masks).reshape(S * B, N, L))
        est = est.reshape(S, B, -1).permute(1, 2, 0)  # [B, T', S]
        T = mix.shape[1]
        return F.pad(est, (0, 0, 0, max(0, T - est.shape[1])))[:, :T]

    def compute_forward(self, batch, stage):
        """Returns estimated and (possibly augmented) targets, [B, T, S]."""
        batch = batch.to(self.device)
        mix, lens = batch.mix_sig
        targets = torch.stack(
            [
                getattr(batch, f"s{i + 1}_sig").data
                for i in range(self.hparams.num_spks)
            ],
            dim=-1,
        )
        if stage == sb.Stage.TRAIN:
            noise = getattr(batch, "noise_sig", None)
            if noise is not None:
                noise = noise.data
            with torch.no_grad():
                mix, targets = self.augment(mix, lens, targets, noise)
        return self.separate(mix), targets

    def augment(self, mix, lens, targets, noise=None):
        """Speed perturbation, random shifts, wavedrop and random crop.

        Perturbed or shifted sources are remixed (plus ``noise`` [B, T] for
        WHAM!); mixtures [B, T], targets [B, T, S].
        """
        hp = self.hparams
        if hp.use_speedperturb or hp.use_rand_shift:
            sources = list(targets.unbind(-1))
            if hp.use_speedperturb:  # an independent speed for each source
                sources = [hp.speed_perturb(s) for s in sources]
            if hp.use_rand_shift:
                sources = [
                    s.roll(
                        int(torch.randint(hp.min_shift, hp.max_shift, ())), 1
                    )
                    for s in sources
                ]
            length = min(s.shape[1] for s in sources)
            if noise is not None:
                length = min(length, noise.shape[1])
            targets = torch.stack([s[:, :length] for s in sources], dim=-1)
            mix = targets.sum(-1)
            if noise is not None:
                mix = mix + noise[:, :length]
        if hp.use_wavedrop:
            mix = hp.drop_freq(hp.drop_chunk(mix, lens))
        if hp.limit_training_signal_len:
            start = int(
                torch.randint(
                    1 + max(0, mix.shape[1] - hp.training_signal_len), ()
                )
            )
            crop = slice(start, start + hp.training_signal_len)
            mix, targets = mix[:, crop], targets[:, crop]
        return mix, targets

    def compute_objectives(self, predictions, batch, stage):
        """Negative SI-SNR of each example under the best permutation, [B]."""
        est, targets = predictions
        return self.hparams.loss(targets, est)

    def fit_batch(self, batch):
        """Trains on one batch; skips it on every rank if any rank's loss
        is non-finite, above ``loss_upper_lim`` or empty after
        ``threshold_byloss``."""
        with self.training_ctx:
            predictions = self.compute_forward(batch, sb.Stage.TRAIN)
            loss = self.compute_objectives(predictions, batch, sb.Stage.TRAIN)
            if self.hparams.threshold_byloss:  # drop examples already good
                loss = loss[loss > self.hparams.threshold]
            loss = loss.mean()  # NaN if nothing is left
        usable = torch.isfinite(loss) & (loss < self.hparams.loss_upper_lim)
        if self._on_all_ranks(usable):
            self.scaler.scale(loss).backward()
            if self.hparams.clip_grad_norm >= 0:
                self.scaler.unscale_(self.optimizer)
                torch.nn.utils.clip_grad_norm_(
                    self.modules.parameters(), self.hparams.clip_grad_norm
                )
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.optimizer_step += 1
        else:
            self.nonfinite_count += 1
            logger.info(
                "Non-finite, too large or empty loss: skipping the batch "
                f"({self.nonfinite_count} this epoch)."
            )
        self.optimizer.zero_grad(set_to_none=True)
        return loss.detach().cpu()

    def _on_all_ranks(self, flag: torch.Tensor) -> bool:
        """True only if ``flag`` holds on every DDP rank (skipping a
        backward on one rank alone would hang the gradient all-reduce)."""
        if is_distributed_initialized():
            flag = flag.float()
            torch.distributed.all_reduce(flag, torch.distributed.ReduceOp.MIN)
        return bool(flag)

    def evaluate_batch(self, batch, stage):
        """Validation loss; at test time also per-utterance scores."""
        with self.evaluation_ctx:
            est, targets = self.compute_forward(batch, stage)
            loss = self.compute_objectives((est, targets), batch, stage)
        if stage == sb.Stage.TEST:
            self.score(batch, est.float(), targets)
        return loss.mean().detach()

    def score(self, batch, est, targets):
        """Scores each test utterance (without its padding); saves audio."""
        mix, lens = batch.mix_sig
        for b, uid in enumerate(batch.id):
            n = int(torch.round(lens[b] * mix.shape[1]))
            scores, perm = separation_scores(
                targets[b, :n].cpu(), est[b, :n].cpu(), mix[b, :n]
            )
            self.test_scores.append({"snt_id": uid, **scores})
            if self.hparams.save_audio and (
                len(self.test_scores) <= self.hparams.n_audio_to_save
            ):
                self.save_audio(
                    uid, mix[b, :n], targets[b, :n], est[b, :n, perm]
                )

    def save_audio(self, snt_id, mixture, targets, estimates):
        """Saves peak-normalised mixture [T], targets [T, S] and estimates
        [T, S] (aligned with the targets) as SpeechBrain's recipes name
        them: item<id>_mix.wav, item<id>_source<k>.wav, ..._source<k>hat.wav.
        """
        if not if_main_process():
            return
        folder = Path(self.hparams.save_folder) / "audio_results"
        folder.mkdir(parents=True, exist_ok=True)
        signals = {"mix": mixture}
        for k in range(targets.shape[-1]):
            signals[f"source{k + 1}"] = targets[:, k]
            signals[f"source{k + 1}hat"] = estimates[:, k]
        for name, signal in signals.items():
            signal = signal.detach().float().cpu()
            write_audio(
                str(folder / f"item{snt_id}_{name}.wav"),
                signal / signal.abs().max().clamp(min=1e-8),
                self.hparams.sample_rate,
            )

    def on_stage_start(self, stage, epoch=None):
        """Resets the per-utterance test scores."""
        if stage == sb.Stage.TEST:
            self.test_scores = []

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Anneals the learning rate, logs, checkpoints, writes results."""
        stats = {"si-snr": stage_loss}
        if stage == sb.Stage.TRAIN:
            self.train_stats = stats
        elif stage == sb.Stage.VALID:
            current_lr, next_lr = self.hparams.lr_scheduler(
                [self.optimizer], epoch, stage_loss
            )
            update_learning_rate(self.optimizer, next_lr)
            self.hparams.train_logger.log_stats(
                stats_meta={"epoch": epoch, "lr": current_lr},
                train_stats=self.train_stats,
                valid_stats=stats,
            )
            self.checkpointer.save_and_keep_only(
                meta={"si-snr": stage_loss}, min_keys=["si-snr"]
            )
        else:
            self.hparams.train_logger.log_stats(
                stats_meta={"Epoch loaded": self.hparams.epoch_counter.current},
                test_stats=stats,
            )
            self.write_results()

    def write_results(self):
        """Writes ``test_results.csv``: one row per utterance, then ``avg``."""
        columns = ["snt_id", "sdr", "sdr_i", "si-snr", "si-snr_i"]
        average = {
            c: float(np.mean([r[c] for r in self.test_scores]))
            for c in columns[1:]
        }
        if if_main_process():
            path = os.path.join(self.hparams.output_folder, "test_results.csv")
            with open(path, "w", newline="", encoding="utf-8") as f:
                writer = csv.DictWriter(f, fieldnames=columns)
                writer.writeheader()
                writer.writerows(self.test_scores)
                writer.writerow({"snt_id": "avg", **average})
            logger.info(f"Wrote {path}")
        for name, value in average.items():
            logger.info(f"Mean {name} is {value:.2f} dB")

    def make_dataloader(
        self, dataset, stage, ckpt_prefix="dataloader-", **loader_kwargs
    ):
        """Adds the epoch-keyed sampler that ``DynamicMixing`` needs."""
        if not isinstance(dataset, DynamicMixing):
            return super().make_dataloader(
                dataset, stage, ckpt_prefix, **loader_kwargs
            )
        sampler = EpochSampler(len(dataset))
        loader_kwargs.update(sampler=sampler, collate_fn=PaddedBatch)
        loader_kwargs.pop("shuffle", None)  # the stream is random already
        loader = super().make_dataloader(
            dataset, stage, ckpt_prefix, **loader_kwargs
        )
        if self.train_sampler is None:  # not DDP: no wrapper to call it
            self.train_sampler = sampler
        return loader


# --------------------------------------------------------------------------
# The recipe driver shared by recipes/*/train.py.
# --------------------------------------------------------------------------


def load_recipe(argv: list[str]) -> tuple[dict, dict]:
    """Parses a recipe command line, loads its hyperparameters, starts DDP
    (under torchrun) and creates the experiment folder.

    Arguments
    ---------
    argv : list[str]
        ``hparams.yaml`` followed by SpeechBrain options and overrides.

    Returns
    -------
    hparams : dict
    run_opts : dict
    """
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    sb.utils.distributed.ddp_init_group(run_opts)
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=hparams_file,
        overrides=overrides,
    )
    return hparams, run_opts


def train_and_evaluate(
    hparams: dict, run_opts: dict, noise_folder: str | None = None
) -> Separation:
    """Builds the data, trains (resuming from the last checkpoint in the
    output folder) and evaluates the best checkpoint on the test set.

    Arguments
    ---------
    hparams : dict
        Recipe hyperparameters.
    run_opts : dict
        SpeechBrain run options.
    noise_folder : str, optional
        WHAM! training noise folder (see ``dataio_prep``).

    Returns
    -------
    separator : Separation
        The trained Brain.
    """
    train, valid, test = dataio_prep(hparams, noise_folder)
    separator = Separation(
        modules=hparams["modules"],
        opt_class=hparams["optimizer"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    separator.fit(
        hparams["epoch_counter"],
        train,
        valid,
        train_loader_kwargs=hparams["dataloader_opts"],
        valid_loader_kwargs=dict(hparams["eval_dataloader_opts"]),
    )
    separator.evaluate(
        test,
        min_key="si-snr",
        test_loader_kwargs=dict(hparams["eval_dataloader_opts"]),
    )
    return separator
