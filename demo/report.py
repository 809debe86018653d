"""What the demo shows: the test scores as a table and the spectrograms of
one separated test mixture."""

from pathlib import Path

import numpy as np
import soundfile as sf

from lobes.training.results import read_test_results


def results_table(results: Path) -> tuple[str, dict]:
    """Formats a ``test_results.csv``.

    Arguments
    ---------
    results : Path
        The CSV written by the recipe.

    Returns
    -------
    table : str
        SI-SNRi and SDRi per test mixture, then the average.
    average : dict
        The ``avg`` row: ``sdr``, ``sdr_i``, ``si-snr``, ``si-snr_i``.
    """
    rows, average = read_test_results(results)
    lines = [f"{'test mixture':40} {'SI-SNRi':>8} {'SDRi':>8}"]
    for row in [*rows, {"snt_id": "avg", **average}]:
        if row["snt_id"] == "avg":
            lines.append("-" * 58)
        lines.append(
            f"{row['snt_id'][:40]:40} {float(row['si-snr_i']):8.2f} "
            f"{float(row['sdr_i']):8.2f}"
        )
    return "\n".join(lines), average


def spectrogram_figure(audio_folder: Path, figure: Path) -> str:
    """Draws mixture, references and estimates of the first saved test
    example as log-magnitude spectrograms.

    Arguments
    ---------
    audio_folder : Path
        The recipe's ``save/audio_results``.
    figure : Path
        The PNG to write.

    Returns
    -------
    example : str
        The id of the drawn test mixture.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    fig.suptitle(f"RE-SepFormer demo, test mixture {example}")
    fig.tight_layout()
    partial = figure.with_name(figure.stem + ".partial.png")
    fig.savefig(partial, dpi=100)
    plt.close(fig)
    partial.replace(figure)
    return example
