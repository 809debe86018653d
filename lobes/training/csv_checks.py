"""Checks of what separation training reads, before it starts: a corpus
to prepare CSVs from (`check_corpus`: complete, of the recipe's speakers)
and a separation CSV with every file it names (`check_csv`, `read_csv`:
readable rows, the columns, complete mono files of one length at the
run's rate, with `lobes.training.audio_files`). Each problem is one
`DataError` naming the file (or row), the problem and the fix.

Authors
 * sepformer-lobes contributors 2026
"""

import csv
import os
import re
from collections.abc import Sequence
from pathlib import Path

from speechbrain.dataio.dataio import load_data_csv
from speechbrain.utils.distributed import if_main_process
from tqdm import tqdm

from lobes.corpus.output import METADATA, corpus_metadata
from lobes.training.audio_files import audio_frames
from lobes.training.errors import DataError

SPEAKER = re.compile(r"s\d+")  # a speaker's source: s1, s2, ...
SOURCE_COLUMN = re.compile(r"s\d+_wav")  # its CSV column
VARIABLE = re.compile(r"\$([\w.]+)")  # as load_data_csv finds them


def check_corpus(datapath: str, root: str, folders: dict[str, str]) -> None:
    """Raises `DataError` for a corpus that preparation must not use: one
    of `lobes.synthmix` whose build was interrupted (its ``synthmix.json``
    says ``"complete": false``), or one with more speakers (``s3``
    folders) than the recipe's ``folders``.

    Arguments
    ---------
    datapath : str
        The corpus folder.
    root : str
        Its split folders' folder (``datapath/wav8k/min``).
    folders : dict
        CSV signal name -> folder name (``s1``, ``s2``, ...).

    Example
    -------
    >>> root = getfixture("tmp_path")
    >>> (root / "min" / "tt" / "s3").mkdir(parents=True)
    >>> check_corpus(str(root), str(root / "min"), {"s1": "s1", "s2": "s2"})
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    lobes.training.errors.DataError: ... has 3 speakers (...s3), but ...
    """
    meta = corpus_metadata(Path(datapath))
    if meta is not None and not meta.get("complete"):
        raise DataError(
            f"{datapath} holds an incomplete corpus: its {METADATA} says "
            '"complete": false (python -m lobes.synthmix was interrupted '
            "while writing it); build it again before training."
        )
    num_spks = sum(bool(SPEAKER.fullmatch(s)) for s in folders)
    for split in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        extra = os.path.join(root, split, f"s{num_spks + 1}")
        if os.path.isdir(extra):
            found = max(  # s1, s2, s3 (, s4 ...)
                int(f[1:])
                for f in os.listdir(os.path.join(root, split))
                if SPEAKER.fullmatch(f)
            )
            raise DataError(
                f"{datapath} has {found} speakers ({extra}), but num_spks "
                f"is {num_spks}: pass --num_spks={found}, or use a "
                f"{num_spks}-speaker corpus."
            )


def check_csv(
    csv_path: str,
    data_folder: str,
    sample_rate: int,
    signals: Sequence[str],
    min_samples: int = 1,
    needed_by: str = "",
) -> None:
    """Checks every file of a separation CSV before training starts.

    The CSV must be readable (`read_csv`). Each row needs one
    ``<signal>_wav`` column per signal (``mix``, ``s1``, ``s2``, ...; no
    more speakers' columns), pointing at existing, complete mono audio
    files sampled at ``sample_rate`` with finite samples (`audio_frames`),
    all of the same length (the "min" versions of WSJ0-2Mix and WHAM!)
    and at least ``min_samples`` long. The first problem raises
    `DataError` (or ``FileNotFoundError``) naming the file, the problem
    and the fix.

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
    min_samples : int
        The shortest length training and evaluation can use.
    needed_by : str
        What needs ``min_samples`` (for the message), e.g. ``"the
        encoder's kernel spans"``.

    Example
    -------
    >>> import numpy as np, soundfile as sf
    >>> folder = getfixture("tmp_path")
    >>> sf.write(folder / "a.wav", np.zeros(10), 8000)
    >>> _ = (folder / "t.csv").write_text("ID,mix_wav\\nu1,$data_root/a.wav\\n")
    >>> check_csv(folder / "t.csv", str(folder), 8000, ["mix"], 16,
    ...           "the encoder's kernel spans")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    lobes.training.errors.DataError: ...a.wav has 10 samples ... (row u1 of ...)
    """
    if not os.path.isfile(csv_path):
        raise FileNotFoundError(
            f"CSV file not found: {csv_path}. Prepare the data with "
            "--skip_prep=False, or pass existing CSVs with --train_data, "
            "--valid_data and --test_data."
        )
    rows = read_csv(csv_path, data_folder)
    if not rows:
        raise DataError(f"{csv_path} has no rows: prepare the data again.")
    columns = [f"{s}_wav" for s in signals]
    header = next(iter(rows.values()))
    missing = [c for c in columns if c not in header]
    if missing:
        raise DataError(
            f"{csv_path} lacks the column(s) {missing}; a separation CSV "
            f"here needs ID, duration, {', '.join(columns)}."
        )
    given, wanted = (
        [c for c in names if SOURCE_COLUMN.fullmatch(c)]
        for names in (header, columns)
    )
    if len(given) > len(wanted):
        raise DataError(
            f"{csv_path} has the columns {given}: its mixtures have "
            f"{len(given)} speakers, but num_spks is {len(wanted)}. Pass "
            f"--num_spks={len(given)}, or use the CSVs of a "
            f"{len(wanted)}-speaker corpus."
        )
    for uid, row in tqdm(
        rows.items(),
        desc=f"Checking {os.path.basename(csv_path)}",
        disable=len(rows) < 1000 or not if_main_process(),
    ):
        where = f"(row {uid} of {csv_path})"  # said last
        frames = {}
        for column in columns:
            try:
                frames[column] = audio_frames(row[column], sample_rate)
            except DataError as error:
                raise DataError(f"{error} {where}") from error
        if len(set(frames.values())) > 1:
            raise DataError(_lengths_differ(csv_path, uid, row, frames))
        if frames[columns[0]] < min_samples:
            length = frames[columns[0]]
            raise DataError(
                f"{row[columns[0]]} has {length} samples "
                f"({1000 * length / sample_rate:.1f} ms), fewer than the "
                f"{min_samples} that {needed_by}: remove its row from the "
                f"CSV (or give it longer audio). {where}"
            )


def _lengths_differ(
    csv_path: str, uid: str, row: dict, frames: dict[str, int]
) -> str:
    """The message for a CSV row whose files (``frames``: column to
    length, the mixture first) differ in length: sources shorter than
    their mixture, the longest as long as it, are a 'max' version; other
    differences, files that do not belong together."""
    where = f"{csv_path}, row {uid}"
    mix, *sources = frames
    longest = max(frames.values())
    if frames[mix] == longest == max(frames[s] for s in sources):
        return (
            f"{where}: the signals differ in length {frames}: sources "
            "shorter than their mixture, as in the 'max' version of a "
            "corpus; use its 'min' version."
        )
    shorter = ", ".join(row[c] for c in frames if frames[c] < longest)
    return (
        f"{where}: the signals differ in length {frames}: {shorter} is "
        "shorter than the others of its row, so the files do not belong "
        "together (a damaged file, or one of another corpus): regenerate or "
        "copy the corpus again, or fix the row."
    )


def read_csv(csv_path: str, data_folder: str) -> dict[str, dict]:
    """SpeechBrain's ``load_data_csv`` of a separation CSV, after checking
    what it would fail on with a traceback: the ``ID`` column, rows of as
    many fields as the header, unique IDs, numeric durations and no
    ``$variable`` but ``$data_root``. The first problem raises `DataError`
    naming the CSV, the line and the fix.

    Arguments
    ---------
    csv_path : str
        A CSV in SpeechBrain's separation format.
    data_folder : str
        Replaces ``$data_root`` in the paths.

    Returns
    -------
    dict
        Rows by ID, as ``load_data_csv`` returns them.

    Example
    -------
    >>> path = getfixture("tmp_path") / "t.csv"
    >>> _ = path.write_text("ID,duration,mix_wav\\nu1,1.0,a.wav\\nu1,2.0\\n")
    >>> read_csv(str(path), "")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    lobes.training.errors.DataError: ...t.csv, line 3 (ID u1): 2 fields, ...
    """
    seen: dict[str, int] = {}  # ID: its line
    try:
        with open(csv_path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f, skipinitialspace=True)
            header = reader.fieldnames or []
            if "ID" not in header:
                raise DataError(
                    f"{csv_path} has no ID column (its header is "
                    f"{','.join(header)!r}): a separation CSV begins with "
                    "the line ID,duration,mix_wav,...; add or fix it."
                )
            for row in reader:
                line = f"{csv_path}, line {reader.line_num}"
                _check_row(row, len(header), f"{line} (ID {row['ID']})")
                if row["ID"] in seen:
                    raise DataError(
                        f"{line}: the ID {row['ID']} is also that of line "
                        f"{seen[row['ID']]}; give each row its own ID."
                    )
                seen[row["ID"]] = reader.line_num
    except UnicodeDecodeError as error:
        raise DataError(
            f"{csv_path} is not UTF-8 text (byte {error.start}: "
            f"{error.reason}): save it as UTF-8."
        ) from error
    except csv.Error as error:
        raise DataError(
            f"{csv_path}, line {reader.line_num}: {error}; fix the CSV."
        ) from error
    return load_data_csv(csv_path, replacements={"data_root": data_folder})


def _check_row(row: dict, fields: int, where: str) -> None:
    """Raises `DataError` if a CSV row (of `read_csv`) cannot be read."""
    given = sum(v is not None for k, v in row.items() if k is not None)
    given += len(row.get(None) or [])
    if given != fields:
        raise DataError(
            f"{where}: {given} fields, but the header has {fields}; give "
            "each row one value per column (an empty one between two "
            "commas)."
        )
    if "duration" in row:
        try:
            float(row["duration"])
        except ValueError:
            raise DataError(
                f"{where}: the duration {row['duration']!r} is not a number; "
                "give the mixture's length in seconds."
            ) from None
    for value in row.values():
        for name in VARIABLE.findall(value):
            if name != "data_root":
                raise DataError(
                    f"{where}: {value} refers to ${name}, but only "
                    "$data_root (--data_folder) is replaced; write the path "
                    "out."
                )
