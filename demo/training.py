"""The demo's corpus and training budget, shared with the equal-budget
quality benchmark (``python -m bench.quality``): every model is trained by
the WSJ0Mix recipe, run as a user runs it, on the same corpus, for the same
steps, from the same seed; the recipe then scores it on the synthetic test
split (``test_results.csv``) and on the real-speech test split
(``test_results_real.csv``, when the corpus has real voices)."""

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path

from hparams import MODELS, model_option
from lobes.corpus.layouts import LAYOUTS
from lobes.corpus.writer import N_TEST_REAL, generate

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
# the recipe that reads each corpus layout
RECIPE_OF = {"wsj0-2mix": "WSJ0Mix", "wham": "WHAM", "librimix": "LibriMix"}
# eSpeak NG and real voices (the pinned Debian packages, when they can be
# fetched): 50 validation mixtures, half of them real, pick the checkpoint;
# 100 mixtures of 3 real voices never heard in training test it
CORPUS = {
    "n_train": 800,
    "n_valid": 50,
    "n_test": 50,
    "n_test_real": 100,
    "seed": 1234,
}
REAL_VOICES = "auto"
SAMPLE_RATE = 8000  # the corpus's (the writer's default), in Hz
# The demo's model: of the registry's small models, FlashFormer learns
# fastest at this budget (bench/results/quality.md); its training step
# takes 1.4x RE-SepFormer's (0.37 s against 0.26 s on one thread).
DEMO_MODEL = "fsmn_flash"
# TRAINING_EPOCHS epochs of 800 fresh mixtures (dynamic mixing), in
# batches of 4 crops of CROP_SECONDS: 200 steps an epoch, and 50 validation
# mixtures after each. 4800 steps of 1 s crops learn more than 2400 of
# 2 s, the same audio in about the same time (FlashFormer: 4.49 dB SI-SNRi
# on the synthetic test split against 2.85; README, "Two commands").
TRAINING_EPOCHS = 24
CROP_SECONDS = 1.0
STEPS_PER_EPOCH = CORPUS["n_train"] // 4
TRAINING = [
    "--lr=0.001",
    "--dataloader_opts={batch_size: 4, num_workers: 0}",
    "--eval_dataloader_opts={batch_size: 1, num_workers: 0}",
    "--dynamic_mixing=True",
    "--limit_training_signal_len=True",
    # each source at 85-115% speed (pitch and tempo): more voices than the
    # corpus has (validation SI-SNR at epoch 6: 1.26 dB against 0.61)
    "--use_speedperturb=True",
    "--speed_changes=[85, 90, 95, 100, 105, 110, 115]",
]


def demo_threads() -> int:
    """Training threads of the demo, alone on the machine: the cores this
    process may use, at most 4 (the small FlashFormer's training step
    takes 0.37 s on one thread and 0.21 s on two; Intel Xeon, 2 cores).

    Returns
    -------
    int
    """
    if hasattr(os, "sched_getaffinity"):
        cores = len(os.sched_getaffinity(0))
    else:
        cores = os.cpu_count() or 1
    return min(4, cores)


def build_corpus(
    folder: Path,
    layout: str = "wsj0-2mix",
    sizes: dict | None = None,
    real_voices: str | os.PathLike = REAL_VOICES,
) -> bool:
    """Writes the corpus unless a complete one with the same settings is
    already there (one made without the real voices it asked for is
    written again: they may be at hand now).

    Arguments
    ---------
    folder : Path
        Corpus folder (``python -m lobes.synthmix`` output).
    layout : str
        ``wsj0-2mix``, ``wham`` or ``librimix``.
    sizes : dict, optional
        ``n_train``, ``n_valid``, ``n_test``, ``seed`` and, optionally,
        ``n_test_real`` (default `CORPUS`).
    real_voices : str or path
        ``auto``, ``off`` or a folder of unpacked packages (see
        `lobes.corpus.writer.generate`).

    Returns
    -------
    bool
        Whether the corpus has real voices and its real-speech test split.
    """
    sizes = CORPUS if sizes is None else sizes
    marker = folder / "synthmix.json"
    if marker.is_file():
        meta = json.loads(marker.read_text())
        wanted = {
            "n_test_real": N_TEST_REAL,
            **sizes,
            "layout": layout,
            "sample_rate": SAMPLE_RATE,
            "num_spks": 2,
            "real_voices": str(real_voices),
        }
        real = bool(meta.get("real_voices"))
        if meta.get("complete") and meta.get("args") == wanted:
            if real or str(real_voices) == "off":
                print(f"Reusing the corpus in {folder}")
                return real
    generate(
        folder, layout=layout, overwrite=True, real_voices=real_voices, **sizes
    )
    return bool(json.loads(marker.read_text()).get("real_voices"))


def train(
    corpus: Path,
    output: Path,
    model: str = "resepformer",
    sizes: dict | None = None,
    epochs: int = TRAINING_EPOCHS,
    extra: Sequence[str] = (),
    quiet: bool = False,
    layout: str = "wsj0-2mix",
    threads: int = 1,
    crop_seconds: float = CROP_SECONDS,
) -> list[str]:
    """Runs the recipe of a corpus layout (WSJ0Mix by default) as a user
    would, with the demo's budget: it trains, then writes
    ``output/test_results.csv`` and, for a corpus with real voices,
    ``output/test_results_real.csv``.

    Arguments
    ---------
    corpus : Path
        The corpus folder (``--data_folder``; its ``clean/<train split>``
        for dynamic mixing).
    output : Path
        The recipe's ``--output_folder``.
    model : str
        A model of the registry (``recipes/WSJ0Mix/hparams/<model>.yaml``).
    sizes : dict, optional
        ``--model`` overrides; default: the model's ``small`` size.
    epochs : int
        Training epochs of 200 dynamically mixed examples.
    extra : sequence of str
        Further recipe options.
    quiet : bool
        Append the recipe's output to ``output/run.log`` (kept across
        resumed runs) instead of printing it.
    layout : str
        The corpus layout, which picks the recipe (`RECIPE_OF`).
    threads : int
        Torch threads of the training process: 1 when several runs share
        the cores (`bench.quality`), where threads waiting for each other
        slow training several-fold (measured: 3.4 s instead of 0.4 s a
        batch); the demo, alone on the machine, takes `demo_threads`.
    crop_seconds : float
        Length of the training examples (``--training_signal_len`` at the
        corpus's 8 kHz).

    Returns
    -------
    command : list[str]
        The command line, run in ``recipes/<recipe>``.
    """
    sizes = MODELS[model].small if sizes is None else sizes
    command = [
        sys.executable,
        "train.py",
        f"hparams/{model}.yaml",
        f"--data_folder={corpus}",
        f"--base_folder_dm={corpus / 'clean' / LAYOUTS[layout].splits[0]}",
        f"--output_folder={output}",
        f"--model={model_option(sizes)}",
        f"--N_epochs={epochs}",
        # halving on a plateau only late: early plateaus are the rule here
        f"--lr_scheduler={{dont_halve_until_epoch: {2 * epochs // 3}}}",
        f"--training_signal_len={round(SAMPLE_RATE * crop_seconds)}",
        *TRAINING,
        *extra,
    ]
    env = os.environ | {"OMP_NUM_THREADS": str(threads)}
    output.mkdir(parents=True, exist_ok=True)
    with open(output / "run.log", "a") if quiet else nullcontext() as log:
        subprocess.run(
            command,
            cwd=RECIPES / RECIPE_OF[layout],
            env=env,
            check=True,
            stdout=log,
            stderr=subprocess.STDOUT if quiet else None,
        )
    return command
