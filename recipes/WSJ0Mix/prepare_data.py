"""Writes SpeechBrain separation CSVs for WSJ0-2Mix and WSJ0-3Mix.

Layout under ``datapath`` (as made by the wsj0-mix scripts; the embedded
corpus of ``python -m lobes.synthmix --layout wsj0-2mix`` has it too)::

    wav8k/min/{tr,cv,tt}/{mix,s1,s2[,s3]}/<utterance id>.wav

Output: ``savepath/wsj_{tr,cv,tt}.csv`` with the columns of SpeechBrain's
``recipes/WSJ0Mix/prepare_data.py``, and ``wsj_tt_real.csv`` when the
corpus has the real-voice test split ``tt_real`` (the embedded corpus with
real voices).

Authors
 * sepformer-lobes contributors 2025
"""

from lobes.corpus.layouts import LAYOUTS
from lobes.training.csvs import signal_names, write_split_csvs

REAL_TEST = LAYOUTS["wsj0-2mix"].real_test  # tt_real


def prepare_wsjmix(
    datapath: str,
    savepath: str,
    n_spks: int = 2,
    skip_prep: bool = False,
    fs: int = 8000,
) -> None:
    """Writes ``wsj_tr.csv``, ``wsj_cv.csv``, ``wsj_tt.csv`` and, for a
    corpus with real voices, ``wsj_tt_real.csv``.

    Arguments
    ---------
    datapath : str
        The corpus folder (e.g. ``/data/wsj0-mix/2speakers``).
    savepath : str
        Where the CSVs go.
    n_spks : int
        Number of speakers (2 or 3).
    skip_prep : bool
        If True, do nothing (the CSVs are given).
    fs : int
        Sample rate: picks ``wav8k`` or ``wav16k``.
    """
    if skip_prep:
        return
    folders = {s: s for s in signal_names(n_spks)}
    write_split_csvs(
        datapath, savepath, folders, "wsj", fs, optional=[REAL_TEST]
    )
