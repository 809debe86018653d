#!/usr/bin/env python3
"""Recipe: train and evaluate a speech separation model on Libri2Mix
(Libri3Mix with --num_spks=3), clean or with WHAM! noise.

    python train.py hparams/resepformer.yaml --data_folder=/data/Libri2Mix
    python train.py hparams/sepformer.yaml --data_folder=/data/Libri2Mix \\
        --use_wham_noise=True

With ``use_wham_noise`` the mixtures are ``mix_both`` and carry their noise
(speed-perturbed sources are remixed with it); the targets stay the clean
sources, and dynamic mixing takes its noise from train-360/noise. Dynamic
mixing reads LibriSpeech's layout (speaker id = the folder two levels up).
Multi-GPU, CPU DDP, resuming and the real-voice test split work as in
recipes/WSJ0Mix/train.py; the Brain lives in lobes.training.

Authors
 * sepformer-lobes contributors 2026
"""

import os

import speechbrain as sb
from prepare_data import SPLITS, prepare_librimix
from speechbrain.utils.distributed import run_on_main

from lobes.training.brain import Separation
from lobes.training.recipe import load_recipe, run_recipe, train_and_evaluate


def main(argv: list[str]) -> Separation:
    """Runs the recipe on a command line (without the program name)."""
    hparams, run_opts, experiment = load_recipe(argv)
    sb.create_experiment_directory(**experiment)  # copies this file there
    noisy = hparams["use_wham_noise"]
    run_on_main(
        prepare_librimix,
        kwargs={
            "datapath": hparams["data_folder"],
            "savepath": hparams["save_folder"],
            "n_spks": hparams["num_spks"],
            "skip_prep": hparams["skip_prep"],
            "librimix_addnoise": noisy,
            "fs": hparams["sample_rate"],
        },
    )
    noise_folder = None
    if noisy:
        sample_rate = f"wav{hparams['sample_rate'] // 1000}k"
        noise_folder = os.path.join(
            hparams["data_folder"], sample_rate, "min", SPLITS[0], "noise"
        )
    return train_and_evaluate(
        hparams, run_opts, noise_folder=noise_folder, speakers="librispeech"
    )


if __name__ == "__main__":
    run_recipe(main)
