"""SpeechBrain separation CSVs: writing them for a corpus laid out in
folders (every split checked first, then all CSVs or none; a corpus whose
build was interrupted, or of more speakers than the recipe's, refused:
`lobes.training.csv_checks.check_corpus`), and reading them. Checking them
and every file they name before training: `lobes.training.csv_checks`.

The CSV format is that of SpeechBrain's separation recipes: ``ID,
duration``, then ``<signal>_wav, <signal>_wav_format, <signal>_wav_opts``
for each signal (``mix``, ``s1``, ``s2``, ..., ``noise``); paths may start
with ``$data_root`` (replaced by ``data_folder``).

Authors
 * sepformer-lobes contributors 2026
"""

import csv
import os
from collections.abc import Sequence
from pathlib import Path

from speechbrain.dataio.dataio import read_audio
from speechbrain.dataio.dataset import DynamicItemDataset
from speechbrain.utils.logger import get_logger

from lobes.files import replacing, replacing_all
from lobes.training.audio_files import audio_info
from lobes.training.csv_checks import check_corpus

logger = get_logger(__name__)

SPLITS = ("tr", "cv", "tt")


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
    >>> import numpy as np, soundfile as sf
    >>> root = getfixture("tmp_path")
    >>> for signal in ("mix", "s1", "s2"):
    ...     (root / signal).mkdir()
    ...     sf.write(root / signal / "utt1.wav", np.zeros(800), 8000)
    >>> folders = {s: str(root / s) for s in ("mix", "s1", "s2")}
    >>> write_separation_csv(folders, str(root / "tt.csv"))
    1
    >>> from lobes.training.csv_checks import check_csv
    >>> check_csv(str(root / "tt.csv"), "", 8000, ["mix", "s1", "s2"])
    >>> data = csv_dataset(str(root / "tt.csv"), "", ["mix", "s1", "s2"])
    >>> data[0]["id"], data[0]["s2_sig"].shape
    ('utt1', torch.Size([800]))
    """
    rows = separation_rows(folders)
    os.makedirs(os.path.dirname(os.path.abspath(csv_path)), exist_ok=True)
    with replacing(csv_path) as partial:
        _write_rows(partial, rows)
    logger.info(f"Wrote {csv_path} ({len(rows)} utterances)")
    return len(rows)


def separation_rows(folders: dict[str, str]) -> list[dict]:
    """The rows of `write_separation_csv`, after checking that every
    folder exists and has the mixtures' file names (`FileNotFoundError`
    naming the folder or the file).

    Arguments
    ---------
    folders : dict[str, str]
        Signal name to folder, the mixture first under the name ``mix``.

    Returns
    -------
    list of dict
        One row per mixture, by column (``ID``, ``duration``, then three
        columns per signal).
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
    rows = []
    for name in names:
        paths = {s: os.path.join(d, name) for s, d in folders.items()}
        row = {"ID": Path(name).stem}
        row["duration"] = audio_info(paths["mix"]).duration
        for signal, path in paths.items():
            row[f"{signal}_wav"] = path
            row[f"{signal}_wav_format"] = "wav"
            row[f"{signal}_wav_opts"] = None
        rows.append(row)
    return rows


def _write_rows(path: Path, rows: list[dict]) -> None:
    """Writes the rows of `separation_rows` as a CSV at ``path``."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_split_csvs(
    datapath: str,
    savepath: str,
    folders: dict[str, str],
    prefix: str,
    fs: int = 8000,
    splits: Sequence[str] = SPLITS,
    optional: Sequence[str] = (),
) -> list[str]:
    """Writes ``savepath/<prefix>_<split>.csv`` for each split of a corpus
    laid out as ``datapath/wav{8,16}k/min/<split>/<folder>/<id>.wav``,
    all or none: every split is checked (`check_corpus`,
    `separation_rows`) before any CSV is replaced.

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
    splits : sequence of str
        The split folders (WSJ0-2Mix and WHAM!: ``tr, cv, tt``; LibriMix:
        ``train-360, dev, test``).
    optional : sequence of str
        Split folders written only where the corpus has them (the embedded
        corpus's real-voice test split, ``tt_real``); where it has not, a
        CSV of one that an earlier preparation left in ``savepath`` is
        removed, so that it is not taken for this corpus's.

    Returns
    -------
    list of str
        The splits written: ``splits``, then the ``optional`` ones present.

    Example
    -------
    >>> import soundfile as sf
    >>> root = getfixture("tmp_path")
    >>> for split in ("tr", "cv", "tt", "tt_real"):
    ...     (root / "wav8k/min" / split / "mix").mkdir(parents=True)
    ...     sf.write(root / "wav8k/min" / split / "mix/u.wav", [0.0], 8000)
    >>> write_split_csvs(root, root, {"mix": "mix"}, "x", optional=["tt_real"])
    ['tr', 'cv', 'tt', 'tt_real']
    >>> import shutil; shutil.rmtree(root / "wav8k/min/tt_real")
    >>> write_split_csvs(root, root, {"mix": "mix"}, "x", optional=["tt_real"])
    ['tr', 'cv', 'tt']
    >>> (root / "x_tt_real.csv").exists()
    False
    """
    if not os.path.isdir(datapath):
        raise FileNotFoundError(
            f"data_folder not found: {datapath}. It must hold "
            f"wav{fs // 1000}k/min/{{{','.join(splits)}}}/"
            f"{{{','.join(folders.values())}}}."
        )
    root = os.path.join(datapath, f"wav{fs // 1000}k", "min")
    check_corpus(datapath, root, folders)
    present = [s for s in optional if os.path.isdir(os.path.join(root, s))]
    tables = {
        split: separation_rows(
            {s: os.path.join(root, split, f) for s, f in folders.items()}
        )
        for split in [*splits, *present]
    }
    paths = [os.path.join(savepath, f"{prefix}_{s}.csv") for s in tables]
    os.makedirs(savepath, exist_ok=True)
    with replacing_all(paths) as partials:
        for partial, rows in zip(partials, tables.values(), strict=True):
            _write_rows(partial, rows)
    for path, rows in zip(paths, tables.values(), strict=True):
        logger.info(f"Wrote {path} ({len(rows)} utterances)")
    for split in set(optional) - set(present):
        stale = os.path.join(savepath, f"{prefix}_{split}.csv")
        if os.path.isfile(stale):
            os.remove(stale)
            logger.info(f"Removed {stale}: {datapath} has no {split} split")
    return list(tables)


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
