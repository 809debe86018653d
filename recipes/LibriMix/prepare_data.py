"""Writes SpeechBrain separation CSVs for Libri2Mix and Libri3Mix.

Layout under ``datapath`` (a ``Libri2Mix`` or ``Libri3Mix`` folder as the
LibriMix scripts make it; the embedded corpus of ``python -m
lobes.synthmix --layout librimix`` has it too)::

    wav8k/min/{train-360,dev,test}/{mix_clean,mix_both,s1,s2[,s3],noise}/<id>.wav

Output: ``savepath/libri<n>mix_{train-360,dev,test}.csv`` with the columns
of SpeechBrain's ``recipes/LibriMix/prepare_data.py`` (mixture =
``mix_both`` with ``librimix_addnoise``, else ``mix_clean``), and
``libri<n>mix_test_real.csv`` when the corpus has the real-voice test split
``test_real`` (the embedded corpus with real voices).

Authors
 * sepformer-lobes contributors 2026
"""

from lobes.corpus.layouts import LAYOUTS
from lobes.training.csvs import signal_names, write_split_csvs

SPLITS = LAYOUTS["librimix"].splits  # train-360, dev, test
REAL_TEST = LAYOUTS["librimix"].real_test  # test_real


def prepare_librimix(
    datapath: str,
    savepath: str,
    n_spks: int = 2,
    skip_prep: bool = False,
    librimix_addnoise: bool = False,
    fs: int = 8000,
) -> None:
    """Writes ``libri<n>mix_train-360.csv``, ``libri<n>mix_dev.csv``,
    ``libri<n>mix_test.csv`` and, for a corpus with real voices,
    ``libri<n>mix_test_real.csv``.

    Arguments
    ---------
    datapath : str
        The corpus folder (e.g. ``/data/Libri2Mix``).
    savepath : str
        Where the CSVs go.
    n_spks : int
        Number of speakers (2 or 3).
    skip_prep : bool
        If True, do nothing (the CSVs are given).
    librimix_addnoise : bool
        Noisy mixtures (``mix_both``), with the noise as a column of its
        own (SpeechBrain's ``use_wham_noise``).
    fs : int
        Sample rate: picks ``wav8k`` or ``wav16k``.
    """
    if skip_prep:
        return
    folders = {s: s for s in signal_names(n_spks, noise=librimix_addnoise)}
    folders["mix"] = "mix_both" if librimix_addnoise else "mix_clean"
    prefix = f"libri{n_spks}mix"
    write_split_csvs(
        datapath, savepath, folders, prefix, fs, SPLITS, optional=[REAL_TEST]
    )
