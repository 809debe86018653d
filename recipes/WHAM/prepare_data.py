"""Writes SpeechBrain separation CSVs for WHAM! (noisy two-speaker mixtures).

Layout under ``datapath`` (as made by the WHAM! scripts; the embedded corpus
of ``python -m lobes.synthmix --layout wham`` has it too)::

    wav8k/min/{tr,cv,tt}/{mix_both,mix_clean,s1,s2,noise}/<utterance id>.wav

Output: ``savepath/whamorg_{tr,cv,tt}.csv`` with the columns of SpeechBrain's
``recipes/WHAMandWHAMR/prepare_data.py`` (mixture = ``mix_both``), and
``whamorg_tt_real.csv`` when the corpus has the real-voice test split
``tt_real`` (the embedded corpus with real voices).

Authors
 * sepformer-lobes contributors 2025
"""

from lobes.corpus.layouts import LAYOUTS
from lobes.training.csvs import write_split_csvs

REAL_TEST = LAYOUTS["wham"].real_test  # tt_real


def prepare_wham(
    datapath: str, savepath: str, skip_prep: bool = False, fs: int = 8000
) -> None:
    """Writes ``whamorg_tr.csv``, ``whamorg_cv.csv``, ``whamorg_tt.csv``
    and, for a corpus with real voices, ``whamorg_tt_real.csv``.

    Arguments
    ---------
    datapath : str
        The corpus folder (e.g. ``/data/wham_original``).
    savepath : str
        Where the CSVs go.
    skip_prep : bool
        If True, do nothing (the CSVs are given).
    fs : int
        Sample rate: picks ``wav8k`` or ``wav16k``.
    """
    if skip_prep:
        return
    folders = {"mix": "mix_both", "s1": "s1", "s2": "s2", "noise": "noise"}
    write_split_csvs(
        datapath, savepath, folders, "whamorg", fs, optional=[REAL_TEST]
    )
