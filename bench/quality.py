"""Separation quality at equal training budget, every masknet against
upstream SpeechBrain.

Each model is trained by the same recipe (``recipes/WSJ0Mix``), for the same
number of steps, on the same data (the demo's embedded corpus with dynamic
mixing) from the same seed, exactly as ``make demo`` trains its model
(`demo.training.train`); then the recipe scores it on the corpus's test
split (SI-SNRi and SDRi, ``test_results.csv``) and on its real-speech test
split of held-out real voices (``test_results_real.csv``; empty cells for
a corpus without real voices). The models are the registry's
(`hparams.MODELS`) at their ``small`` sizes, of nearly equal compute (GMACs
per second of 8 kHz audio, reported beside the scores), plus two ablations
of LatentSepFormer (`RUNS`)::

    python -m bench.quality                   # 32 epochs of 50 steps each
    python -m bench.quality --epochs 200 --jobs 4 --models resepformer

``--jobs`` trains that many models at once (one thread each). Runs resume:
an interrupted benchmark started again continues each model from its last
checkpoint (its folder is ``OUT/<run name>``). Results:
``bench/results/quality.csv`` and ``quality.md``.
"""

import argparse
import functools
import platform
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import torch

from bench.tables import RESULTS, markdown_table, write_csv
from demo.training import (
    CORPUS,
    STEPS_PER_EPOCH,
    TRAINING_EPOCHS,
    build_corpus,
    train,
)
from hparams import MODELS
from lobes.attention import count_macs
from lobes.files import write_text
from lobes.training.brain import LOSS
from lobes.training.results import FILE, REAL_FILE, read_test_results


@dataclass(frozen=True)
class Run:
    """One row of the benchmark: a registry model at its small size.

    Arguments
    ---------
    label : str
        Name in the tables.
    model : str
        The registry name (`hparams.MODELS`).
    changes : dict
        Overrides on top of the model's ``small`` size (the ablations).
    """

    label: str
    model: str
    changes: dict = field(default_factory=dict)

    @property
    def sizes(self) -> dict:
        """The ``--model`` overrides the run trains with."""
        return MODELS[self.model].small | self.changes


RUNS = {
    "resepformer": Run("RESepFormer", "resepformer"),
    "latent_xattn": Run("LatentSepFormer", "latent_xattn"),
    # ablation: the same model, chunks never exchange information
    "latent_xattn-no-long-pass": Run(
        "LatentSepFormer, no long pass", "latent_xattn", {"long_pass": False}
    ),
    # ablation: repeats 2..R share their weights (Perceiver), same compute
    "latent_xattn-tied": Run(
        "LatentSepFormer, tied repeats", "latent_xattn", {"tied_repeats": True}
    ),
    "fsmn_flash": Run("FlashFormer", "fsmn_flash"),
    "sepformer": Run("SepFormer-Light (upstream)", "sepformer"),
}


def model_cost(model: str, sizes: dict) -> dict:
    """Parameters and GMACs per second of 8 kHz audio of a sized model.

    The MACs of `lobes.model.EncoderMaskerDecoder.separate` on 4 s of
    audio, counted on the meta device.

    Arguments
    ---------
    model : str
        The registry name.
    sizes : dict
        The ``--model`` overrides.

    Returns
    -------
    dict
        ``params_M`` (encoder, masknet and decoder) and ``GMACs/s``.

    Example
    -------
    >>> cost = model_cost("resepformer", MODELS["resepformer"].small)
    >>> round(cost["params_M"], 3), round(cost["GMACs/s"], 2)
    (0.311, 0.26)
    """
    seconds = 4
    with torch.device("meta"):
        separator = MODELS[model].build(sizes).eval()
        mix = torch.empty(1, seconds * 8000)
    macs = count_macs(functools.partial(separator.separate, mix))
    params = sum(p.numel() for p in separator.parameters())
    return {"params_M": params / 1e6, "GMACs/s": macs / seconds / 1e9}


def scores(run: Path) -> dict:
    """Test SI-SNRi and SDRi (the average row of the recipe's
    ``test_results.csv``), the same on the real-speech test split (of
    ``test_results_real.csv``; None without one, or when it is older than
    ``test_results.csv``: left by an earlier evaluation), the epoch of the
    checkpoint tested (the best on validation), and the SI-SNR on the last
    epoch's training mixtures (from ``train_log.txt``; fresh mixtures each
    epoch, so a less noisy measure of learning than a 20-mixture test set).

    Arguments
    ---------
    run : Path
        The recipe's output folder.

    Returns
    -------
    dict
        ``train SI-SNR``, ``tested epoch``, ``SI-SNRi``, ``SDRi``, ``real
        SI-SNRi`` and ``real SDRi``.
    """
    log = (run / "train_log.txt").read_text().splitlines()
    last_epoch = [line for line in log if line.startswith("epoch")][-1]
    train_loss = float(last_epoch.split(f"train {LOSS}: ")[1].split(" ")[0])
    tested = [line for line in log if line.startswith("Epoch loaded: ")][-1]
    _, average = read_test_results(run / FILE)
    real = {"si-snr_i": None, "sdr_i": None}  # empty cells
    results = run / REAL_FILE  # written after test_results.csv
    if results.is_file() and (
        results.stat().st_mtime_ns >= (run / FILE).stat().st_mtime_ns
    ):
        _, real = read_test_results(results)
    return {
        "train SI-SNR": -train_loss,  # the log holds the loss, -SI-SNR
        "tested epoch": int(tested.split()[2]),
        "SI-SNRi": average["si-snr_i"],
        "SDRi": average["sdr_i"],
        "real SI-SNRi": real["si-snr_i"],
        "real SDRi": real["sdr_i"],
    }


def main(argv: list[str] | None = None) -> None:
    """Command line; see the module docstring.

    Arguments
    ---------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(
        prog="python -m bench.quality", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--epochs", type=int, default=TRAINING_EPOCHS)
    parser.add_argument(
        "--models",
        nargs="+",
        default=list(RUNS),
        choices=list(RUNS),
        metavar="NAME",
        help="runs (default: all): " + ", ".join(RUNS),
    )
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("results/quality"))
    args = parser.parse_args(argv)
    out = args.out.resolve()
    corpus = out / "corpus"
    build_corpus(corpus)

    def run(name: str) -> dict:
        spec = RUNS[name]
        folder = out / name
        train(corpus, folder, spec.model, spec.sizes, args.epochs, quiet=True)
        return {
            "name": name,
            "model": spec.label,
            **model_cost(spec.model, spec.sizes),
            "steps": args.epochs * STEPS_PER_EPOCH,
            **scores(folder),
        }

    with ThreadPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(run, args.models))
    write_csv(rows, RESULTS / "quality.csv")
    header = (
        f"Equal budget: {args.epochs} epochs x {STEPS_PER_EPOCH} steps of 4 "
        "dynamically mixed 2 s examples, seed 1234, embedded corpus test "
        f"split ({CORPUS['n_test']} mixtures) and real-speech test split "
        f"(real SI-SNRi, SDRi: {CORPUS['n_test_real']} mixtures of held-out "
        "real voices; empty without real voices); "
        f"{platform.processor() or platform.machine()}, one thread per "
        f"model, {args.jobs} at once.\n\n"
        f"    python -m bench.quality --epochs {args.epochs}\n\n"
    )
    table = markdown_table(rows)
    write_text(RESULTS / "quality.md", header + table + "\n")
    print(header + table)


if __name__ == "__main__":
    main()
