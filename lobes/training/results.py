"""``test_results.csv``, the per-utterance test scores a recipe run writes,
in the format of SpeechBrain's separation recipes: one row per test
utterance (``snt_id, sdr, sdr_i, si-snr, si-snr_i``, in dB), then the
``avg`` row. An utterance whose scores are not finite (NaN estimates)
keeps its row, and is left out of the averages; `left_out` names it.
The real-voice test split of the embedded corpus (``tt_real``), when the
run has one, is scored in ``test_results_real.csv`` (`REAL_FILE`), in the
same format.

Authors
 * sepformer-lobes contributors 2026
"""

import csv
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lobes.files import replacing

FILE = "test_results.csv"
REAL_FILE = "test_results_real.csv"  # the real-voice test split's scores
SCORES = ("sdr", "sdr_i", "si-snr", "si-snr_i")


def write_test_results(
    folder: str | os.PathLike, rows: Sequence[dict], name: str = FILE
) -> tuple[Path, dict[str, float]]:
    """Writes ``folder/<name>`` (temporary file, then renamed).

    Arguments
    ---------
    folder : path
        The run's output folder.
    rows : sequence of dict
        One per utterance: ``snt_id`` and the `SCORES`.
    name : str
        The file name: `FILE` (``test_results.csv``) or `REAL_FILE`.

    Returns
    -------
    path : Path
        The file written.
    average : dict
        The mean of each score over the utterances whose scores are all
        finite (the ``avg`` row; NaN if there are none).

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> rows = [{"snt_id": "a", "sdr": 1, "sdr_i": 2, "si-snr": 3,
    ...          "si-snr_i": 4}, {"snt_id": "b", "sdr": 3, "sdr_i": 4,
    ...          "si-snr": 5, "si-snr_i": 6}]
    >>> path, average = write_test_results(folder, rows)
    >>> average["si-snr_i"]
    5.0
    >>> read_test_results(path)[1] == average
    True
    >>> rows.append({"snt_id": "c", **dict.fromkeys(SCORES, float("nan"))})
    >>> write_test_results(folder, rows)[1]["si-snr_i"], left_out(rows)
    (5.0, ['c'])
    >>> write_test_results(folder, rows[:1], REAL_FILE)[0].name
    'test_results_real.csv'
    >>> read_test_results(folder / REAL_FILE)[1]["si-snr_i"]
    4.0
    """
    excluded = set(left_out(rows))
    kept = [r for r in rows if r["snt_id"] not in excluded]
    average = {
        c: float(np.mean([r[c] for r in kept])) if kept else float("nan")
        for c in SCORES
    }
    path = Path(folder) / name
    with (
        replacing(path) as partial,
        open(partial, "w", newline="", encoding="utf-8") as f,
    ):
        writer = csv.DictWriter(f, fieldnames=["snt_id", *SCORES])
        writer.writeheader()
        writer.writerows(rows)
        writer.writerow({"snt_id": "avg", **average})
    return path, average


def left_out(rows: Sequence[dict]) -> list[str]:
    """The utterances a score of which is not finite: left out of the
    averages.

    Arguments
    ---------
    rows : sequence of dict
        One per utterance: ``snt_id`` and the `SCORES`.

    Returns
    -------
    list of str
        Their ``snt_id``.
    """
    return [
        r["snt_id"]
        for r in rows
        if not all(np.isfinite(float(r[c])) for c in SCORES)
    ]


def read_test_results(
    path: str | os.PathLike,
) -> tuple[list[dict], dict[str, float]]:
    """Reads a ``test_results.csv`` (or ``test_results_real.csv``).

    Arguments
    ---------
    path : path
        The file.

    Returns
    -------
    rows : list of dict
        One per utterance, as read (strings).
    average : dict
        The ``avg`` row as floats.
    """
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows or rows[-1].get("snt_id") != "avg":
        raise ValueError(
            f"{path} has no 'avg' row: not a complete test_results.csv (the "
            "run's evaluation did not finish). Evaluate the run again."
        )
    average = {c: float(rows[-1][c]) for c in SCORES}
    return rows[:-1], average
