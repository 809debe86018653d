"""The three file layouts the embedded corpus is written in.

Each :class:`Layout` says how a real corpus names its splits, its mixture
folders, its mixture ids and its clean utterances, so that the real
preparation code (SpeechBrain's ``recipes/{WSJ0Mix,WHAM,LibriMix}``) runs
on the synthetic one unchanged:

- ``wsj0-2mix``: WSJ0-2Mix, or WSJ0-3Mix with 3 speakers. Splits
  ``tr, cv, tt``; folders ``mix, s1, s2[, s3]``; mixture ids
  ``UTT1_L1_UTT2_L2[_UTT3_L3]`` with each source's level in dB.
- ``wham``: WHAM! (with ``s3`` for 3 speakers). Splits ``tr, cv, tt``;
  folders ``mix_both, mix_clean, s1, s2[, s3], noise``; ids as WSJ0-2Mix.
- ``librimix``: Libri2Mix or Libri3Mix. Splits ``train-360, dev, test``;
  folders as WHAM!; ids the utterance ids joined by ``_``.

A corpus with real voices has a fourth split beside the test split, of
real voices held out of training: ``tt_real`` (``test_real`` for
librimix), laid out as the others.

Clean utterances (``OUT/clean/SPLIT/...``, SpeechBrain's ``base_folder_dm``
for dynamic mixing) follow WSJ0 (``SPK/SPKnnnnn.wav``: speaker = first 3
characters of the stem) or, for librimix, LibriSpeech
(``SPK/1/SPK-1-nnnn.wav``: speaker = folder two levels up).

Authors
 * sepformer-lobes contributors 2026
"""

from dataclasses import dataclass
from pathlib import PurePosixPath

NUM_SPKS = (2, 3)
CHAPTER = "1"  # LibriSpeech layout: one chapter per synthetic speaker


@dataclass(frozen=True)
class Layout:
    """How one corpus layout names its folders and files.

    Arguments
    ---------
    name : str
        The ``--layout`` value.
    splits : tuple of str
        Folder names of the train, valid and test splits.
    noisy : bool
        Whether mixtures come with noise (``mix_both``, ``noise``).
    librispeech : bool
        LibriSpeech utterance names and LibriMix mixture ids, instead of
        WSJ0's.
    description : tuple of str
        Lines for the command line's help: what the layout is, its
        mixture files and its clean utterances.

    Example
    -------
    >>> LAYOUTS["librimix"].folders(3)
    ('mix_both', 'mix_clean', 's1', 's2', 's3', 'noise')
    >>> LAYOUTS["wsj0-2mix"].real_test, LAYOUTS["librimix"].real_test
    ('tt_real', 'test_real')
    >>> LAYOUTS["librimix"].clean_path("dev", "a1b-1-0003").as_posix()
    'clean/dev/a1b/1/a1b-1-0003.wav'
    >>> LAYOUTS["wsj0-2mix"].mixture_id(["a1b00000", "x9z00001"], [1.5, -1.5])
    'a1b00000_1.50000_x9z00001_-1.50000'
    """

    name: str
    splits: tuple[str, str, str]
    noisy: bool
    librispeech: bool
    description: tuple[str, ...]

    @property
    def real_test(self) -> str:
        """Folder name of the real-speech test split: the test split's
        name with ``_real`` (``tt_real``, ``test_real``)."""
        return f"{self.splits[2]}_real"

    def folders(self, num_spks: int) -> tuple[str, ...]:
        """Returns the folders of each split's mixtures.

        Arguments
        ---------
        num_spks : int
            Speakers per mixture: folders ``s1`` to ``s<num_spks>``.

        Returns
        -------
        tuple of str
        """
        sources = tuple(f"s{i}" for i in range(1, num_spks + 1))
        if self.noisy:
            return ("mix_both", "mix_clean", *sources, "noise")
        return ("mix", *sources)

    def utterance_id(self, speaker: str, index: int) -> str:
        """Returns the id of a speaker's ``index``-th clean utterance.

        Arguments
        ---------
        speaker : str
            The 3-character speaker id.
        index : int
            0, 1, ...

        Returns
        -------
        str
            ``SPKnnnnn`` (WSJ0) or ``SPK-1-nnnn`` (LibriSpeech).
        """
        if self.librispeech:
            return f"{speaker}-{CHAPTER}-{index:04d}"
        return f"{speaker}{index:05d}"

    def clean_path(self, split: str, utterance: str) -> PurePosixPath:
        """Returns the path of a clean utterance, relative to ``OUT``.

        Arguments
        ---------
        split : str
            Split folder name.
        utterance : str
            An id from :meth:`utterance_id`.

        Returns
        -------
        pathlib.PurePosixPath
        """
        folder = PurePosixPath("clean", split, utterance[:3])
        if self.librispeech:
            folder = folder / CHAPTER
        return folder / f"{utterance}.wav"

    def mixture_id(self, utterances: list[str], levels_db: list[float]) -> str:
        """Returns a mixture's id (its file name without ``.wav``).

        Arguments
        ---------
        utterances : list of str
            The ids of the mixed utterances, in source order.
        levels_db : list of float
            Each source's level in dB as mixed (WSJ0 ids carry it).

        Returns
        -------
        str
        """
        if self.librispeech:
            return "_".join(utterances)
        return "_".join(
            f"{utt}_{level:.5f}"
            for utt, level in zip(utterances, levels_db, strict=True)
        )


_WSJ0_SPLITS = ("tr", "cv", "tt")
LAYOUTS = {
    layout.name: layout
    for layout in (
        Layout(
            "wsj0-2mix",
            _WSJ0_SPLITS,
            noisy=False,
            librispeech=False,
            description=(
                "WSJ0-2Mix, WSJ0-3Mix with --num-spks 3:",
                "{tr,cv,tt}/{mix,s1,s2[,s3]}/UTT1_L1_UTT2_L2[_UTT3_L3].wav",
                "clean/{tr,cv,tt}/SPK/SPKnnnnn.wav",
            ),
        ),
        Layout(
            "wham",
            _WSJ0_SPLITS,
            noisy=True,
            librispeech=False,
            description=(
                "WHAM! (s3 with --num-spks 3):",
                "{tr,cv,tt}/{mix_both,mix_clean,s1,s2[,s3],noise}/ID.wav,",
                "ids and clean/ as wsj0-2mix",
            ),
        ),
        Layout(
            "librimix",
            ("train-360", "dev", "test"),
            noisy=True,
            librispeech=True,
            description=(
                "Libri2Mix, Libri3Mix with --num-spks 3:",
                "{train-360,dev,test}/{mix_both,mix_clean,s1,s2[,s3],noise}/",
                "  UTT1_UTT2[_UTT3].wav",
                "clean/{train-360,dev,test}/SPK/1/SPK-1-nnnn.wav (LibriSpeech)",
            ),
        ),
    )
}
