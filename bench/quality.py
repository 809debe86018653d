"""Separation quality at equal training budget, every masknet against
upstream SpeechBrain, over one or more seeds.

Each model is trained by the same recipe (``recipes/WSJ0Mix``), for the same
number of steps, on the same data (the demo's embedded corpus with dynamic
mixing) from the same seeds, exactly as ``make demo`` trains its model
(`demo.training.train`); then the recipe scores it on the corpus's test
split (SI-SNRi and SDRi, ``test_results.csv``) and on its real-speech test
split of held-out real voices (``test_results_real.csv``; empty cells for
a corpus without real voices). The models are the registry's
(`hparams.MODELS`) at their ``small`` sizes, of nearly equal compute (GMACs
per second of 8 kHz audio, reported beside the scores): our three lobes,
upstream SpeechBrain's RE-SepFormer (``resepformer_sb``, the same function
as our RESepFormer: training fidelity at equal steps, data and seed) and
SepFormer, plus two ablations of LatentSepFormer (`RUNS`)::

    python -m bench.quality                   # the demo's 24 x 200 steps
    python -m bench.quality --epochs 200 --jobs 4 --models resepformer
    python -m bench.quality --models resepformer resepformer_sb \\
        --seeds 1234 1 2                      # the spread over 3 seeds
    python -m bench.quality --seeds 1234 1 --top 2  # seed 1: the best 2
    python -m bench.quality --real-voices off # eSpeak NG voices only
    python -m bench.quality --smoke           # the path in a minute

``--seeds`` trains each model once per seed (the recipe's ``--seed``: the
initial weights and the dynamically mixed training examples; the corpus is
the same); with ``--top K`` only the K runs of the best SI-SNRi with the
first seed get the others. ``--jobs`` trains that many runs at once (one
thread each). Runs resume: an interrupted benchmark started again
continues each run from its last checkpoint (its folder is
``OUT/<run name>/<seed>``, as SpeechBrain's ``results/<experiment>/<seed>``),
and a finished one is only scored again.
Results: ``bench/results/quality.csv``, one row per run and seed, and
``quality.md``, per run the mean and the spread (± half the range) over
the seeds (`bench.spread`), then the rows per seed (``--smoke``: tiny
corpus and models, one epoch, its folder and results in
``results/quality-smoke``).
"""

import argparse
import functools
import math
import platform
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import torch

from bench.spread import spread_table, summarize
from bench.tables import RESULTS, markdown_table, write_csv
from demo.__main__ import SMOKE_CORPUS
from demo.training import (
    CORPUS,
    CROP_SECONDS,
    SAMPLE_RATE,
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

SEED = 1234  # the recipes' own (recipes/template.yaml)
# what varies with the seed: each run's mean and spread in quality.md
SCORES = ("train SI-SNR", "SI-SNRi", "SDRi", "real SI-SNRi", "real SDRi")
COLUMNS = ("model", "params_M", "GMACs/s", "steps", "seeds", "tested epoch")


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
    "resepformer_sb": Run("RE-SepFormer (upstream)", "resepformer_sb"),
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
    >>> model_cost("resepformer_sb", MODELS["resepformer_sb"].small) == cost
    True
    """
    seconds = 4
    with torch.device("meta"):
        separator = MODELS[model].build(sizes).eval()
        mix = torch.empty(1, seconds * SAMPLE_RATE)
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


def header_text(
    epochs: int,
    steps: int,
    crop_seconds: float,
    seeds: list[int],
    sizes: dict,
    real: bool,
    jobs: int,
    smoke: bool = False,
    top: int | None = None,
    models: list[str] | None = None,
) -> str:
    """What ``quality.md`` says before its tables: the budget, the seeds,
    the corpus, the machine and the command line.

    Arguments
    ---------
    epochs : int
        Training epochs.
    steps : int
        Training steps per epoch.
    crop_seconds : float
        Length of the training examples.
    seeds : list of int
        The seeds.
    sizes : dict
        The corpus's sizes (`demo.training.CORPUS`).
    real : bool
        Whether the corpus has real voices and its real-speech test split.
    jobs : int
        Runs trained at once.
    smoke : bool
        A ``--smoke`` run.
    top : int, optional
        Only the ``top`` runs of the first seed got the other seeds.
    models : list of str, optional
        The runs trained (names of `RUNS`): named in the command line
        unless they are all of them.

    Returns
    -------
    str

    Example
    -------
    >>> text = header_text(8, 200, 2.0, [1234, 1], CORPUS, False, 2)
    >>> "seeds 1234, 1 (each score: the mean" in text
    True
    >>> "quality --epochs 8 --crop-seconds 2 --seeds 1234 1\\n" in text
    True
    >>> runs = ["sepformer"]
    >>> text = header_text(8, 200, 1.0, [7], CORPUS, False, 2, models=runs)
    >>> "--seeds 7 --models sepformer\\n" in text
    True
    """
    if len(seeds) == 1:
        seed_text = f"seed {seeds[0]}"
    else:
        seed_text = (
            f"seeds {', '.join(map(str, seeds))} (each score: the mean over "
            "the seeds ± half their range)"
        )
        if top is not None:
            seed_text += (
                f", the seeds after the first for the {top} runs of the "
                "best SI-SNRi with the first only"
            )
    real_text = (
        f"real-speech test split (real SI-SNRi, SDRi: {sizes['n_test_real']} "
        "mixtures of held-out real voices)"
        if real
        else "no real-speech test split (a corpus without real voices)"
    )
    command = (
        f"--epochs {epochs} --crop-seconds {crop_seconds:g} "
        f"--seeds {' '.join(map(str, seeds))}"
    )
    command += "" if top is None else f" --top {top}"
    if models is not None and list(models) != list(RUNS):
        command += f" --models {' '.join(models)}"
    return (
        f"Equal budget: {epochs} epochs x {steps} steps of 4 dynamically "
        f"mixed {crop_seconds:g} s examples, {seed_text}; embedded corpus "
        f"test split ({sizes['n_test']} mixtures), {real_text}; "
        f"{platform.processor() or platform.machine()}, one thread per "
        f"run, {jobs} at once.\n\n    python -m bench.quality {command}"
        f"{' --smoke' if smoke else ''}\n\n"
    )


def best_runs(rows: list[dict], top: int | None) -> list[str]:
    """The names of the ``top`` rows of the best SI-SNRi (all, in their
    order, when ``top`` is None).

    Arguments
    ---------
    rows : list of dict
        One per run: ``name`` and ``SI-SNRi`` (None: not scored).
    top : int, optional
        How many.

    Returns
    -------
    list of str

    Example
    -------
    >>> rows = [{"name": n, "SI-SNRi": v} for n, v in zip("abc", (1, 3, None))]
    >>> best_runs(rows, 1), best_runs(rows, None)
    (['b'], ['a', 'b', 'c'])
    """
    if top is None:
        return [row["name"] for row in rows]
    ranked = sorted(rows, key=lambda row: -(row["SI-SNRi"] or -math.inf))
    return [row["name"] for row in ranked[:top]]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring).

    Arguments
    ---------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    argparse.Namespace
        With ``out`` and ``results`` resolved, ``epochs`` 1 for a smoke
        run, and ``models`` and ``seeds`` without repeats.
    """
    parser = argparse.ArgumentParser(
        prog="python -m bench.quality", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--epochs", type=int, default=TRAINING_EPOCHS)
    parser.add_argument(
        "--crop-seconds",
        type=float,
        default=CROP_SECONDS,
        metavar="S",
        help="length of the training examples (default: the demo's, "
        "%(default)s)",
    )
    parser.add_argument(
        "--models",
        nargs="+",
        default=list(RUNS),
        choices=list(RUNS),
        metavar="NAME",
        help="runs (default: all): " + ", ".join(RUNS),
    )
    parser.add_argument(
        "--seeds",
        nargs="+",
        type=int,
        default=[SEED],
        metavar="N",
        help="train each run once per seed (default: %(default)s)",
    )
    parser.add_argument(
        "--top",
        type=int,
        metavar="K",
        help="only the K runs of the best SI-SNRi with the first seed get "
        "the other seeds (default: every run)",
    )
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--out",
        type=Path,
        help="corpus and runs (default: results/quality, with --smoke "
        "results/quality-smoke)",
    )
    parser.add_argument(
        "--results",
        type=Path,
        help="where quality.csv and quality.md go (default: bench/results, "
        "with --smoke OUT)",
    )
    parser.add_argument(
        "--real-voices",
        default="auto",
        metavar="{auto,off,DIR}",
        help="real recorded voices in the corpus, as `python -m demo` "
        "takes them (default: %(default)s)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="check the whole path in a minute: the demo's smoke corpus, "
        "the registry's tiny sizes, one epoch (scores mean nothing)",
    )
    args = parser.parse_args(argv)
    default_out = "results/quality" + ("-smoke" if args.smoke else "")
    args.out = (args.out or Path(default_out)).resolve()
    args.results = args.results or (args.out if args.smoke else RESULTS)
    args.epochs = 1 if args.smoke else args.epochs
    args.models = list(dict.fromkeys(args.models))
    args.seeds = list(dict.fromkeys(args.seeds))
    return args


def main(argv: list[str] | None = None) -> None:
    """Trains and scores every run once per seed, then writes the tables.

    Arguments
    ---------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``; see the module docstring).
    """
    args = parse_args(argv)
    sizes = SMOKE_CORPUS if args.smoke else CORPUS
    corpus = args.out / "corpus"
    real = build_corpus(corpus, sizes=sizes, real_voices=args.real_voices)
    # the demo's batches of 4 examples
    steps = STEPS_PER_EPOCH * sizes["n_train"] // CORPUS["n_train"]

    def run(task: tuple[str, int]) -> dict:
        name, seed = task
        spec = RUNS[name]
        model = MODELS[spec.model].tiny if args.smoke else spec.sizes
        folder = args.out / name / str(seed)
        extra = [f"--seed={seed}"]
        train(
            corpus,
            folder,
            spec.model,
            model,
            args.epochs,
            extra,
            quiet=True,
            crop_seconds=args.crop_seconds,
        )
        return {
            "name": name,
            "model": spec.label,
            "seed": seed,
            **model_cost(spec.model, model),
            "steps": args.epochs * steps,
            **scores(folder),
        }

    first, *more = args.seeds
    with ThreadPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(run, [(name, first) for name in args.models]))
        again = best_runs(rows, args.top)
        rows += pool.map(run, [(name, s) for name in again for s in more])
    write_csv(rows, args.results / "quality.csv")
    header = header_text(
        args.epochs,
        steps,
        args.crop_seconds,
        args.seeds,
        sizes,
        real,
        args.jobs,
        args.smoke,
        args.top,
        args.models,
    )
    summary = summarize(rows, SCORES, ["tested epoch"])
    table = spread_table(summary, [*COLUMNS, *SCORES], SCORES)
    if len(args.seeds) > 1:
        columns = ["model", "seed", "tested epoch", *SCORES]
        table += "\n\nPer seed:\n\n" + markdown_table(rows, columns)
    write_text(args.results / "quality.md", header + table + "\n")
    print(header + table)


if __name__ == "__main__":
    main()
