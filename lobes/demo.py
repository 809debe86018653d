"""The end-to-end demo behind ``make demo``.

Builds the embedded (eSpeak NG) corpus in the WSJ0-2Mix layout, trains a
small RE-SepFormer with the WSJ0Mix recipe exactly as a user runs it (here
with dynamic mixing and a few minutes of CPU), evaluates it on the test
split, prints the SI-SNRi / SDRi table, and draws the spectrograms of one
test mixture, its references and the estimates::

    python -m lobes.demo results/demo

Running it again reuses the corpus and resumes (or just re-evaluates) the
training run in the same folder; delete the folder to start over.

Authors
 * sepformer-lobes contributors 2025
"""

import argparse
import csv
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import soundfile as sf

from lobes.synthmix import corpus_statistics, format_statistics, generate

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "WSJ0Mix"
CORPUS = {"n_train": 200, "n_valid": 10, "n_test": 20, "seed": 1234}
# A small RE-SepFormer (0.3 M parameters, 0.26 GMACs per second of audio).
DEMO_MODEL = (
    "{N_encoder_out: 64, intra_layers: 2, memory_layers: 2, nhead: 4, "
    "d_ffn: 256, chunk_size: 100}"
)
# The training budget, shared with bench/quality.py: TRAINING_EPOCHS epochs
# of 200 fresh mixtures (dynamic mixing), in batches of 4.
TRAINING_EPOCHS = 32
TRAINING = [
    "--lr=0.001",
    "--dataloader_opts={batch_size: 4, num_workers: 0}",
    "--eval_dataloader_opts={batch_size: 1, num_workers: 0}",
    "--dynamic_mixing=True",
    "--training_signal_len=16000",
    "--limit_training_signal_len=True",
    "--use_speedperturb=False",
]


def build_corpus(folder: Path) -> None:
    """Writes the corpus unless a complete one with the same settings is
    already there.

    Arguments
    ---------
    folder : Path
        Corpus folder (``python -m lobes.synthmix`` output).
    """
    marker = folder / "synthmix.json"
    if marker.is_file():
        meta = json.loads(marker.read_text())
        wanted = CORPUS | {"layout": "wsj0-2mix", "sample_rate": 8000}
        if meta.get("complete") and meta.get("args") == wanted:
            print(f"Reusing the corpus in {folder}")
            return
    generate(folder, layout="wsj0-2mix", overwrite=True, **CORPUS)


def train(
    corpus: Path,
    output: Path,
    hparams: str = "resepformer.yaml",
    model: str = DEMO_MODEL,
    epochs: int = TRAINING_EPOCHS,
    extra: Sequence[str] = (),
    quiet: bool = False,
) -> list[str]:
    """Runs the WSJ0Mix recipe as a user would, with the demo's budget.

    Arguments
    ---------
    corpus : Path
        The corpus folder (``--data_folder``; ``clean/tr`` for mixing).
    output : Path
        The recipe's ``--output_folder``.
    hparams : str
        Recipe hyperparameter file in ``recipes/WSJ0Mix/hparams``.
    model : str
        ``--model`` override (the masknet's size).
    epochs : int
        Training epochs of 200 dynamically mixed examples.
    extra : sequence of str
        Further recipe options.
    quiet : bool
        Append the recipe's output to ``output/run.log`` (kept across
        resumed runs) instead of printing it.

    Returns
    -------
    command : list[str]
        The command line, run in ``recipes/WSJ0Mix``.
    """
    command = [
        sys.executable,
        "train.py",
        f"hparams/{hparams}",
        f"--data_folder={corpus}",
        f"--base_folder_dm={corpus / 'clean' / 'tr'}",
        f"--output_folder={output}",
        f"--model={model}",
        f"--N_epochs={epochs}",
        # halving on a plateau only late: early plateaus are the rule here
        f"--lr_scheduler={{dont_halve_until_epoch: {2 * epochs // 3}}}",
        *TRAINING,
        *extra,
    ]
    # One thread: a model this small gains little from two, and when other
    # work shares the cores, threads waiting for each other slow training
    # several-fold (measured here: 3.4 s instead of 0.4 s a batch).
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    output.mkdir(parents=True, exist_ok=True)
    with open(output / "run.log", "a") if quiet else nullcontext() as log:
        subprocess.run(
            command,
            cwd=RECIPE,
            env=env,
            check=True,
            stdout=log,
            stderr=subprocess.STDOUT if quiet else None,
        )
    return command


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
    with open(results, newline="") as f:
        rows = list(csv.DictReader(f))
    lines = [f"{'test mixture':40} {'SI-SNRi':>8} {'SDRi':>8}"]
    for row in rows:
        if row["snt_id"] == "avg":
            lines.append("-" * 58)
        lines.append(
            f"{row['snt_id'][:40]:40} {float(row['si-snr_i']):8.2f} "
            f"{float(row['sdr_i']):8.2f}"
        )
    average = {k: float(v) for k, v in rows[-1].items() if k != "snt_id"}
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
    fig.savefig(figure, dpi=100)
    plt.close(fig)
    return example


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m lobes.demo [OUT_DIR]``.

    Arguments
    ---------
    argv : list[str], optional
        Arguments without the program name; default ``sys.argv[1:]``.
    """
    parser = argparse.ArgumentParser(prog="python -m lobes.demo")
    parser.add_argument("out_dir", nargs="?", default="results/demo")
    out = Path(parser.parse_args(argv).out_dir).resolve()
    start = time.time()
    corpus, output = out / "corpus", out / "resepformer"

    print(f"== 1/3 Embedded corpus -> {corpus}")
    build_corpus(corpus)
    print(format_statistics(corpus_statistics(corpus)))

    print(f"\n== 2/3 Training a small RE-SepFormer -> {output}")
    command = train(corpus, output, extra=["--n_audio_to_save=5"])

    print("\n== 3/3 Test results (dB improvement over the mixture)")
    table, average = results_table(output / "test_results.csv")
    print(table)
    audio = output / "save" / "audio_results"
    figure = out / "separation.png"
    example = spectrogram_figure(audio, figure)

    minutes = (time.time() - start) / 60
    print(
        f"\nTest SI-SNRi {average['si-snr_i']:.2f} dB, "
        f"SDRi {average['sdr_i']:.2f} dB, in {minutes:.1f} min.\n"
        f"\nWhere everything is:\n"
        f"  corpus (WSJ0-2Mix layout)  {corpus}\n"
        f"  training command           (cd {RECIPE} &&\n"
        f"      {shlex.join(command)})\n"
        f"  training log               {output / 'train_log.txt'}\n"
        f"  checkpoints                {output / 'save'}\n"
        f"  per-utterance scores       {output / 'test_results.csv'}\n"
        f"  separated test examples    {audio}\n"
        f"  spectrograms ({example[:20]}...)  {figure}"
    )


if __name__ == "__main__":
    main()
