#!/usr/bin/env python3
"""Recipe: train and evaluate a speech separation model on WHAM! (two
speakers in noise; the targets are the clean sources).

    python train.py hparams/resepformer.yaml --data_folder=/data/wham_original
    python train.py hparams/sepformer.yaml --data_folder=/data/wham_original

The noise is handled here: examples carry it (the CSVs' ``noise_wav``) so
speed-perturbed sources are remixed with it, and dynamic mixing draws noise
from the training noise folder. Multi-GPU, CPU DDP, resuming and the
real-voice test split work as in recipes/WSJ0Mix/train.py; the Brain lives
in lobes.training.

Authors
 * sepformer-lobes contributors 2025
"""

import os

import speechbrain as sb
from prepare_data import prepare_wham
from speechbrain.utils.distributed import run_on_main

from lobes.training.brain import Separation
from lobes.training.recipe import load_recipe, run_recipe, train_and_evaluate


def main(argv: list[str]) -> Separation:
    """Runs the recipe on a command line (without the program name)."""
    hparams, run_opts, experiment = load_recipe(argv)
    sb.create_experiment_directory(**experiment)  # copies this file there
    run_on_main(
        prepare_wham,
        kwargs={
            "datapath": hparams["data_folder"],
            "savepath": hparams["save_folder"],
            "skip_prep": hparams["skip_prep"],
            "fs": hparams["sample_rate"],
        },
    )
    sample_rate = f"wav{hparams['sample_rate'] // 1000}k"
    noise_folder = os.path.join(
        hparams["data_folder"], sample_rate, "min", "tr", "noise"
    )
    return train_and_evaluate(hparams, run_opts, noise_folder=noise_folder)


if __name__ == "__main__":
    run_recipe(main)
