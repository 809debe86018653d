"""What the demo shows: the test scores as tables (the real-speech test
per pair of voices too) and the spectrograms of separated test mixtures."""

from pathlib import Path

import numpy as np
import soundfile as sf

from lobes.files import replacing
from lobes.training.results import read_test_results


def results_table(
    results: Path, rows_shown: int = 10, by_pair: bool = False
) -> tuple[str, dict]:
    """Formats a ``test_results.csv``.

    Arguments
    ---------
    results : Path
        The CSV written by the recipe.
    rows_shown : int
        Test mixtures listed before the average.
    by_pair : bool
        Also the average of each pair of speakers (speaker = the first 3
        characters of each utterance id in the mixture id).

    Returns
    -------
    table : str
        SI-SNRi and SDRi of the first test mixtures, per pair of speakers
        if asked, then the average of all.
    average : dict
        The ``avg`` row: ``sdr``, ``sdr_i``, ``si-snr``, ``si-snr_i``.
    """
    rows, average = read_test_results(results)
    lines = [f"{'test mixture':40} {'SI-SNRi':>8} {'SDRi':>8}"]
    for row in rows[:rows_shown]:
        lines.append(_line(row["snt_id"], row))
    if len(rows) > rows_shown:
        lines.append(f"... and {len(rows) - rows_shown} more")
    if by_pair:
        pairs = {}
        for row in rows:
            pairs.setdefault(" + ".join(speakers(row["snt_id"])), []).append(
                row
            )
        lines.append("-" * 58)
        for pair, group in sorted(pairs.items()):
            mean = {
                key: sum(float(r[key]) for r in group) / len(group)
                for key in ("si-snr_i", "sdr_i")
            }
            lines.append(_line(f"{pair} ({len(group)} mixtures)", mean))
    lines.append("-" * 58)
    lines.append(_line(f"average of {len(rows)}", average))
    return "\n".join(lines), average


def _line(name: str, scores: dict) -> str:
    return (
        f"{name[:40]:40} {float(scores['si-snr_i']):8.2f} "
        f"{float(scores['sdr_i']):8.2f}"
    )


def speakers(mixture_id: str) -> list[str]:
    """The speakers of a mixture, sorted, from its id: WSJ0-2Mix's
    ``UTT1_L1_UTT2_L2`` or LibriMix's ``UTT1_UTT2``, where each speaker id
    is the first 3 characters of an utterance id.

    Arguments
    ---------
    mixture_id : str
        A mixture id as the embedded corpus writes it.

    Returns
    -------
    list of str

    Example
    -------
    >>> speakers("ait00003_1.20000_afr00010_-1.20000")
    ['afr', 'ait']
    >>> speakers("fnm-1-0002_afr-1-0007")
    ['afr', 'fnm']
    """
    parts = mixture_id.split("_")
    return sorted(p[:3] for p in parts if not _is_number(p))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def spectrogram_figure(
    audio_folder: Path,
    figure: Path,
    example: str | None = None,
    kind: str = "test mixture",
    model: str = "FlashFormer",
) -> str:
    """Draws mixture, references and estimates of a saved test example as
    log-magnitude spectrograms.

    Arguments
    ---------
    audio_folder : Path
        The recipe's ``save/audio_results``.
    figure : Path
        The PNG to write.
    example : str, optional
        The test mixture's id (default: the first saved).
    kind : str
        What the mixture is, in the figure's title.
    model : str
        The model that separated it, in the figure's title.

    Returns
    -------
    example : str
        The id of the drawn test mixture.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if example is None:
        example = sorted(audio_folder.glob("item*_mix.wav"))[0].name[4:-8]
    panels = [("mix", "mixture")]
    for k in (1, 2):
        panels += [(f"source{k}", f"reference {k}")]
        panels += [(f"source{k}hat", f"estimate {k}")]
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 11), sharex=True)
    rng = np.random.default_rng(0)
    for ax, (name, title) in zip(axes, panels, strict=True):
        audio, rate = sf.read(audio_folder / f"item{example}_{name}.wav")
        ax.specgram(
            audio + 1e-7 * rng.standard_normal(len(audio)),  # no log(0)
            NFFT=256,
            Fs=rate,
            noverlap=192,
            cmap="magma",
        )
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("Hz")
    axes[-1].set_xlabel("seconds")
    fig.suptitle(f"{model} demo, {kind} {example}")
    fig.tight_layout()
    with replacing(figure) as partial:
        fig.savefig(partial, dpi=100)
    plt.close(fig)
    return example
