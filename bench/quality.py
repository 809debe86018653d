"""Separation quality at equal training budget, every masknet against
upstream SpeechBrain.

Each model is trained by the same recipe (``recipes/WSJ0Mix``), for the same
number of steps, on the same data (the demo's embedded corpus with dynamic
mixing) from the same seed, exactly as ``make demo`` trains its model
(``lobes.demo.train``); then it is scored on the corpus's test split
(SI-SNRi and SDRi, ``test_results.csv``). The sizes are small enough for a
CPU and of nearly equal compute (GMACs per second of 8 kHz audio, reported
beside the scores)::

    python bench/quality.py                   # 32 epochs of 50 steps each
    python bench/quality.py --epochs 200 --jobs 4 --models RESepFormer

``--jobs`` trains that many models at once (one thread each). Runs resume:
an interrupted benchmark started again continues each model from its last
checkpoint. Results: ``bench/results/quality.csv`` and ``quality.md``.
"""

import argparse
import csv
import platform
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from hyperpyyaml import load_hyperpyyaml

from lobes.attention import count_macs
from lobes.demo import DEMO_MODEL, TRAINING_EPOCHS, build_corpus, train

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, markdown_table, write_csv  # noqa: E402

HPARAMS = Path(__file__).resolve().parents[1] / "hparams"
LATENT_SIZES = (  # without the closing brace: the ablations add a key
    "{N_encoder_out: 64, byte_channels: 64, chunk_size: 100, "
    "num_repeats: 4, num_latents: 8, latent_dim: 32, attention_dim: 100, "
    "nhead: 4, d_ffn: 256, latent_d_ffn: 128, num_global_latents: 8, "
    "global_dim: 64, global_d_ffn: 256"
)
# name: (model definition in hparams/ and recipe file, --model sizes)
MODELS = {
    "RESepFormer": ("resepformer.yaml", DEMO_MODEL),
    "LatentSepFormer": ("latent_xattn.yaml", LATENT_SIZES + "}"),
    # ablation: the same model, chunks never exchange information
    "LatentSepFormer, no long pass": (
        "latent_xattn.yaml",
        LATENT_SIZES + ", long_pass: False}",
    ),
    # ablation: repeats 2..R share their weights (Perceiver), same compute
    "LatentSepFormer, tied repeats": (
        "latent_xattn.yaml",
        LATENT_SIZES + ", tied_repeats: True}",
    ),
    "FlashFormer": (
        "fsmn_flash.yaml",
        "{N_encoder_out: 64, num_layers: 3, nhead: 4, d_ffn: 256, "
        "window_size: 100, fsmn_hidden: 128}",
    ),
    "SepFormer-Light (upstream)": (
        "sepformer.yaml",
        "{N_encoder_out: 64, num_blocks: 1, intra_layers: 1, "
        "inter_layers: 1, nhead: 4, d_ffn: 256, chunk_size: 100}",
    ),
}


def model_cost(hparams: str, sizes: str) -> dict:
    """Parameters and GMACs per second of 8 kHz audio of a sized model.

    Arguments
    ---------
    hparams : str
        Model definition file in ``hparams/``.
    sizes : str
        The ``--model`` override (a YAML mapping).

    Returns
    -------
    dict
        ``params_M`` (encoder, masknet and decoder) and ``GMACs/s``.
    """
    with open(HPARAMS / hparams) as f:
        model = load_hyperpyyaml(f, sizes)
    modules = torch.nn.ModuleDict(model["modules"]).eval()
    mix = torch.randn(1, 4 * 8000)  # 4 s

    def separate():
        w = modules["encoder"](mix)
        return [modules["decoder"](w * m) for m in modules["masknet"](w)]

    with torch.no_grad():
        macs = count_macs(separate)
    params = sum(p.numel() for p in modules.parameters())
    return {"params_M": params / 1e6, "GMACs/s": macs / 4 / 1e9}


def scores(run: Path) -> dict:
    """Test SI-SNRi and SDRi (the average row of the recipe's
    ``test_results.csv``), the epoch of the checkpoint tested (the best on
    validation), and the SI-SNR on the last epoch's training mixtures (from
    ``train_log.txt``; fresh mixtures each epoch, so a less noisy measure
    of learning than a 20-mixture test set)."""
    log = (run / "train_log.txt").read_text().splitlines()
    last_epoch = [line for line in log if line.startswith("epoch")][-1]
    train_loss = float(last_epoch.split("train si-snr: ")[1].split(" ")[0])
    tested = [line for line in log if line.startswith("Epoch loaded: ")][-1]
    with open(run / "test_results.csv", newline="") as f:
        average = list(csv.DictReader(f))[-1]
    return {
        "train SI-SNR": -train_loss,  # the log holds the loss, -SI-SNR
        "tested epoch": int(tested.split()[2]),
        "SI-SNRi": float(average["si-snr_i"]),
        "SDRi": float(average["sdr_i"]),
    }


def main(argv: list[str] | None = None) -> None:
    """Command line; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=TRAINING_EPOCHS)
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("results/quality"))
    args = parser.parse_args(argv)
    unknown = set(args.models) - set(MODELS)
    if unknown:
        parser.error(f"unknown models {sorted(unknown)}; known: {list(MODELS)}")
    out = args.out.resolve()
    corpus = out / "corpus"
    build_corpus(corpus)

    def run(name: str) -> dict:
        hparams, sizes = MODELS[name]
        folder = out / re.sub(r"\W+", "_", name.lower()).strip("_")
        train(corpus, folder, hparams, sizes, args.epochs, quiet=True)
        return {
            "model": name,
            **model_cost(hparams, sizes),
            "steps": args.epochs * 50,
            **scores(folder),
        }

    with ThreadPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(run, args.models))
    write_csv(rows, RESULTS / "quality.csv")
    header = (
        f"Equal budget: {args.epochs} epochs x 50 steps of 4 dynamically "
        "mixed 2 s examples, seed 1234, embedded corpus test split "
        f"(20 mixtures); {platform.processor() or platform.machine()}, "
        f"one thread per model, {args.jobs} at once.\n\n"
        f"    python bench/quality.py --epochs {args.epochs}\n\n"
    )
    table = markdown_table(rows)
    (RESULTS / "quality.md").write_text(header + table + "\n")
    print(header + table)


if __name__ == "__main__":
    main()
